package testenv

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
)

// WSOptions say how DialWS connects.
type WSOptions struct {
	Query     url.Values // query parameters
	Protocols []string   // Sec-WebSocket-Protocol entries
	Header    http.Header
	// RcvBuf is the SO_RCVBUF of the client's socket, if > 0: a small one
	// makes a slow reader.
	RcvBuf int
	// LocalIP is the client's own address, if set: another loopback
	// address (127.0.0.2) is another client address to the server.
	LocalIP string
	// TLS configures a wss:// connection.
	TLS *tls.Config
	// Check, if set, is given every frame received; an error fails the
	// test (a frame the wire's schemas do not allow, say).
	Check func(frame []byte) error
}

// Conn is a raw WebSocket connection that speaks the protocol's envelope
// as ws-kit's client does. It is closed when the test ends.
type Conn struct {
	T     testing.TB
	WS    *websocket.Conn
	Resp  *http.Response
	check func([]byte) error
}

// Msg is a received message.
type Msg struct {
	Type    string          `json:"type"`
	Meta    json.RawMessage `json:"meta,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Raw     []byte          `json:"-"`
}

// CorrelationID is meta.correlationId, "" if none.
func (m Msg) CorrelationID() string {
	var meta struct {
		CorrelationID string `json:"correlationId"`
	}
	json.Unmarshal(m.Meta, &meta)
	return meta.CorrelationID
}

func (m Msg) String() string { return string(m.Raw) }

// DialWS opens a WebSocket to wsURL. A refused upgrade returns the HTTP
// response with the error (its body closed).
func DialWS(t testing.TB, wsURL string, o WSOptions) (*Conn, *http.Response, error) {
	t.Helper()
	u := wsURL
	if len(o.Query) > 0 {
		u += "?" + o.Query.Encode()
	}
	d := websocket.Dialer{HandshakeTimeout: Timeout, Subprotocols: o.Protocols, TLSClientConfig: o.TLS}
	nd := net.Dialer{Timeout: Timeout}
	if o.LocalIP != "" {
		nd.LocalAddr = &net.TCPAddr{IP: net.ParseIP(o.LocalIP)}
	}
	if o.RcvBuf > 0 {
		nd.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.RcvBuf)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	d.NetDialContext = nd.DialContext
	ws, resp, err := d.Dial(u, o.Header)
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return nil, resp, err
	}
	t.Cleanup(func() { ws.Close() })
	return &Conn{T: t, WS: ws, Resp: resp, check: o.Check}, resp, nil
}

// Send sends a message: meta.timestamp always, meta.correlationId when
// cid is set, the payload when not nil.
func (c *Conn) Send(typ, cid string, payload any) {
	c.T.Helper()
	meta := map[string]any{"timestamp": time.Now().UnixMilli()}
	if cid != "" {
		meta["correlationId"] = cid
	}
	m := map[string]any{"type": typ, "meta": meta}
	if payload != nil {
		m["payload"] = payload
	}
	b, err := json.Marshal(m)
	if err != nil {
		c.T.Fatal(err)
	}
	c.SendRaw(string(b))
}

// SendRaw writes one text frame.
func (c *Conn) SendRaw(s string) {
	c.T.Helper()
	c.WS.SetWriteDeadline(time.Now().Add(Timeout))
	if err := c.WS.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.T.Fatalf("write: %v", err)
	}
}

// TryRead returns the next message, after the check.
func (c *Conn) TryRead(timeout time.Duration) (Msg, error) {
	c.WS.SetReadDeadline(time.Now().Add(timeout))
	mt, data, err := c.WS.ReadMessage()
	if err != nil {
		return Msg{}, err
	}
	if mt != websocket.TextMessage {
		return Msg{}, fmt.Errorf("server sent a frame of type %d", mt)
	}
	if c.check != nil {
		if err := c.check(data); err != nil {
			c.T.Errorf("wire check: %v\n  in %s", err, data)
		}
	}
	var m Msg
	if err := json.Unmarshal(data, &m); err != nil {
		return Msg{}, fmt.Errorf("bad frame %s: %v", data, err)
	}
	m.Raw = data
	return m, nil
}

// Read returns the next message, failing the test after Timeout.
func (c *Conn) Read() Msg {
	c.T.Helper()
	m, err := c.TryRead(Timeout)
	if err != nil {
		c.T.Fatalf("read: %v", err)
	}
	return m
}

// Next reads the next message and fails unless it is of type typ.
func (c *Conn) Next(typ string) Msg {
	c.T.Helper()
	m := c.Read()
	if m.Type != typ {
		c.T.Fatalf("got %s, want %s", m, typ)
	}
	return m
}

// CloseCode reads until the connection ends and returns the close code
// the server sent (1006 if it sent none).
func (c *Conn) CloseCode() int {
	c.T.Helper()
	code, err := c.TryCloseCode()
	if err != nil {
		c.T.Fatal(err)
	}
	return code
}

// TryCloseCode is CloseCode for any goroutine: it reports instead of
// failing the test.
func (c *Conn) TryCloseCode() (int, error) {
	for i := 0; i < 100000; i++ {
		c.WS.SetReadDeadline(time.Now().Add(2 * Timeout))
		_, _, err := c.WS.ReadMessage()
		if err == nil {
			continue
		}
		if code, ok := CloseCodeOf(err); ok {
			return code, nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, fmt.Errorf("connection still open after %v", 2*Timeout)
		}
		return protocol.CloseAbnormal, nil
	}
	return 0, errors.New("close code: no end")
}

// CloseCodeOf returns the close code of a read error that is a close frame.
func CloseCodeOf(err error) (int, bool) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, true
	}
	return 0, false
}
