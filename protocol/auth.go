package protocol

// AUTH.REFRESH: a client replaces its connection's token before the old
// one expires (PROTOCOL.md §4.9), so the server does not close the
// connection with 4401 at the old token's exp.

// Message types of the token refresh.
const (
	TypeAuthRefresh   = "AUTH.REFRESH"    // client → server
	TypeAuthRefreshOK = "AUTH.REFRESH.OK" // server → client
)

// AuthRefresh carries a new token for the connection. Its sub must be the
// connection's user; its claims replace the old token's from then on.
type AuthRefresh struct {
	Token string `json:"token"`
}

// AuthRefreshOK accepts a refreshed token. Exp is its exp claim (Unix
// seconds), absent (zero) when the token has none: the connection then
// never expires.
type AuthRefreshOK struct {
	Exp int64 `json:"exp,omitempty"`
}

func (p *AuthRefresh) UnmarshalPayload(data []byte) error {
	token, err := decodeStringPayload(data, "token")
	*p = AuthRefresh{Token: token}
	return err
}

func (p AuthRefresh) AppendJSON(dst []byte) []byte {
	return append(appendStringField(dst, `{"token":`, p.Token), '}')
}

// Validate checks that the token is not empty; whether it is valid is the
// server's to decide.
func (p *AuthRefresh) Validate() error {
	if p.Token == "" {
		return &Error{Code: CodeInvalidArgument, Message: "payload.token: required"}
	}
	return nil
}

func (p *AuthRefreshOK) UnmarshalPayload(data []byte) error {
	d := newObjDecoder(data, "payload", true)
	*p = AuthRefreshOK{}
	for d.next() {
		switch string(d.key) {
		case "exp":
			p.Exp, _ = d.int64(1, false)
		default:
			d.unknown()
		}
	}
	return d.finishTop()
}

func (p AuthRefreshOK) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	if p.Exp != 0 {
		dst = appendIntField(dst, `"exp":`, p.Exp)
	}
	return append(dst, '}')
}

func (p AuthRefresh) MarshalJSON() ([]byte, error)    { return p.AppendJSON(nil), nil }
func (p *AuthRefresh) UnmarshalJSON(b []byte) error   { return p.UnmarshalPayload(b) }
func (p AuthRefreshOK) MarshalJSON() ([]byte, error)  { return p.AppendJSON(nil), nil }
func (p *AuthRefreshOK) UnmarshalJSON(b []byte) error { return p.UnmarshalPayload(b) }
