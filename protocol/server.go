package protocol

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/deltasync/syncd/internal/jsonkit"
	"github.com/deltasync/syncd/revision"
)

// Payloads of the server-to-client messages.
//
// They encode with AppendJSON (and MarshalJSON): absent optional fields are
// left out, and a required list is written as [] even when nil, never as
// null. They decode with UnmarshalPayload (and UnmarshalJSON) for clients:
// unknown fields are skipped, since a client must ignore what a newer
// server adds, but required fields and types are checked as strictly as on
// the server.

// Hello is the first message on every connection.
type Hello struct {
	ClientID    string `json:"clientId"`
	Protocol    string `json:"protocol"` // ProtocolVersion
	HeartbeatMs int64  `json:"heartbeatMs"`
	// Limits names each limit in force with its value (see the Limit*
	// constants). Nil is sent as {}.
	Limits map[string]int64 `json:"limits"`
	// AuthorID is the client's public name: what operations, presence
	// and room messages show as its clientId ([AuthorID]). Empty from a
	// server that predates it (then they show ClientID itself).
	AuthorID string `json:"authorId,omitempty"`
}

// SyncSnapshot is a whole document. AckedReqID is this client's watermark
// in the document, when it has one.
type SyncSnapshot struct {
	Doc        string          `json:"doc"`
	Epoch      revision.Epoch  `json:"epoch"`
	Rev        revision.Rev    `json:"rev"`
	State      json.RawMessage `json:"state"` // the document (empty is sent as {})
	AckedReqID string          `json:"ackedReqId,omitempty"`
	// Outcomes, in a JOIN answer, settle the client's recent request ids
	// at or below AckedReqID (PROTOCOL.md §6.8).
	Outcomes []Outcome `json:"outcomes,omitempty"`
}

// SyncDeltas carries the operations FromRev+1 … ToRev of a document: they
// cover those revisions contiguously, one revision each, except that in a
// catch-up answer an operation may combine several (Operation.FirstRev).
type SyncDeltas struct {
	Doc        string         `json:"doc"`
	Epoch      revision.Epoch `json:"epoch"`
	FromRev    revision.Rev   `json:"fromRev"`
	ToRev      revision.Rev   `json:"toRev"`
	Operations []Operation    `json:"operations"` // nil is sent as []
	AckedReqID string         `json:"ackedReqId,omitempty"`
	Outcomes   []Outcome      `json:"outcomes,omitempty"` // as in SyncSnapshot
}

// Operation is one committed operation in SYNC.DELTAS, or, in a catch-up
// answer, several consecutive ones combined into one.
type Operation struct {
	Rev         revision.Rev    `json:"rev"`
	Type        string          `json:"type"`    // OpPatch or OpMerge
	Payload     json.RawMessage `json:"payload"` // the patch (empty is sent as null)
	ClientID    string          `json:"clientId,omitempty"`
	ClientReqID string          `json:"clientReqId,omitempty"`
	Ts          int64           `json:"ts"` // commit time, Unix milliseconds
	// FirstRev, when not zero, says the operation combines revisions
	// FirstRev … Rev (1 ≤ FirstRev ≤ Rev); zero (absent) means FirstRev =
	// Rev. A combined operation has no ClientID or ClientReqID, and Ts is
	// the last combined operation's.
	FirstRev revision.Rev `json:"firstRev,omitempty"`
}

// First returns the first revision op covers: FirstRev, or Rev.
func (op *Operation) First() revision.Rev {
	if op.FirstRev != 0 {
		return op.FirstRev
	}
	return op.Rev
}

// RevisionGap says the client's revision will not be served as deltas; the
// snapshot at ResumeFrom follows.
type RevisionGap struct {
	Doc            string       `json:"doc"`
	ExpectedRev    revision.Rev `json:"expectedRev"`
	ServerRev      revision.Rev `json:"serverRev"`
	BufferFirstRev revision.Rev `json:"bufferFirstRev"`
	ResumeFrom     revision.Rev `json:"resumeFrom"`
	Reason         string       `json:"reason"` // GapRetention, GapEpoch or GapSmaller
}

// Presence lists who is in a document's room: everyone in answer to JOIN,
// then changes (Clients joined or changed, Left departed).
type Presence struct {
	Doc     string           `json:"doc"`
	Clients []PresenceClient `json:"clients"` // nil is sent as []
	Left    []string         `json:"left,omitempty"`
}

// PresenceClient is one client's presence state.
type PresenceClient struct {
	ClientID string          `json:"clientId"`
	State    json.RawMessage `json:"state"` // free JSON (empty is sent as {})
}

// Message is a room message, from a document's room (Doc) or a topic.
type Message struct {
	Doc   string          `json:"doc,omitempty"`
	Topic string          `json:"topic,omitempty"`
	Data  json.RawMessage `json:"data"` // free JSON (empty is sent as null)
	From  string          `json:"from"` // the sender's client id
}

// ErrorPayload is the payload of ERROR and RPC_ERROR. Build it with
// [Error.Payload].
type ErrorPayload struct {
	Code         Code            `json:"code"`
	Message      string          `json:"message"`
	Details      json.RawMessage `json:"details,omitempty"` // an object
	Retryable    *bool           `json:"retryable,omitempty"`
	RetryAfterMs *int64          `json:"retryAfterMs,omitempty"`
}

// Err converts a received error payload back to an [*Error].
func (p *ErrorPayload) Err() *Error {
	e := &Error{Code: p.Code, Message: p.Message}
	if len(p.Details) > 0 {
		e.Details = p.Details
	}
	if p.RetryAfterMs != nil {
		e.RetryAfter = msDuration(*p.RetryAfterMs)
	}
	return e
}

// --- Hello

func (p *Hello) UnmarshalPayload(data []byte) error {
	d := newObjDecoder(data, "payload", true)
	*p = Hello{}
	for d.next() {
		switch string(d.key) {
		case "clientId":
			p.ClientID = d.str(1)
		case "protocol":
			p.Protocol = d.str(2)
		case "heartbeatMs":
			p.HeartbeatMs, _ = d.int64(4, true)
		case "limits":
			if d.mark(8) {
				if d.isNull() {
					d.nullRequired()
				} else {
					p.Limits = decodeLimits(&d)
				}
			}
		case "authorId":
			p.AuthorID, _ = d.strOpt(16, false)
		default:
			d.unknown()
		}
	}
	d.require(1, "clientId")
	d.require(2, "protocol")
	d.require(4, "heartbeatMs")
	d.require(8, "limits")
	return d.finishTop()
}

// decodeLimits decodes the limits object at the decoder's current value:
// every member a non-negative integer.
func decodeLimits(parent *objDecoder) map[string]int64 {
	d := parent.child(parent.field(), -1, false)
	m := map[string]int64{}
	for d.next() {
		name := string(d.key)
		if _, dup := m[name]; dup {
			d.fail(d.field(), "duplicate field")
			break
		}
		d.seen = 0 // every key is its own field
		v, _ := d.int64(1, true)
		m[name] = v
	}
	parent.adopt(&d)
	return m
}

func (p Hello) AppendJSON(dst []byte) []byte {
	dst = appendStringField(dst, `{"clientId":`, p.ClientID)
	dst = appendStringField(dst, `,"protocol":`, p.Protocol)
	dst = appendIntField(dst, `,"heartbeatMs":`, p.HeartbeatMs)
	dst = append(dst, `,"limits":{`...)
	names := make([]string, 0, len(p.Limits))
	for name := range p.Limits {
		names = append(names, name)
	}
	slices.Sort(names) // a stable encoding, easy to compare and to read
	for i, name := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonkit.AppendString(dst, name)
		dst = append(dst, ':')
		dst = appendInt(dst, p.Limits[name])
	}
	dst = append(dst, '}')
	dst = appendOptString(dst, `,"authorId":`, p.AuthorID)
	return append(dst, '}')
}

// --- SyncSnapshot

func (p *SyncSnapshot) UnmarshalPayload(data []byte) error {
	d := newObjDecoder(data, "payload", true)
	*p = SyncSnapshot{}
	for d.next() {
		switch string(d.key) {
		case "doc":
			p.Doc = d.str(1)
		case "epoch":
			p.Epoch = revision.Epoch(d.str(2))
		case "rev":
			p.Rev = d.rev(4)
		case "state":
			p.State = d.raw(8, true, anyKind)
		case "ackedReqId":
			p.AckedReqID, _ = d.strOpt(16, false)
		case "outcomes":
			p.Outcomes = decodeOutcomes(&d, 32)
		default:
			d.unknown()
		}
	}
	d.require(1, "doc")
	d.require(2, "epoch")
	d.require(4, "rev")
	d.require(8, "state")
	return d.finishTop()
}

func (p SyncSnapshot) AppendJSON(dst []byte) []byte {
	dst = appendStringField(dst, `{"doc":`, p.Doc)
	dst = appendStringField(dst, `,"epoch":`, string(p.Epoch))
	dst = appendUintField(dst, `,"rev":`, uint64(p.Rev))
	dst = appendRawField(dst, `,"state":`, p.State, "{}")
	dst = appendOptString(dst, `,"ackedReqId":`, p.AckedReqID)
	dst = appendOutcomes(dst, p.Outcomes)
	return append(dst, '}')
}

// --- SyncDeltas and Operation

func (p *SyncDeltas) UnmarshalPayload(data []byte) error {
	d := newObjDecoder(data, "payload", true)
	*p = SyncDeltas{}
	for d.next() {
		switch string(d.key) {
		case "doc":
			p.Doc = d.str(1)
		case "epoch":
			p.Epoch = revision.Epoch(d.str(2))
		case "fromRev":
			p.FromRev = d.rev(4)
		case "toRev":
			p.ToRev = d.rev(8)
		case "operations":
			p.Operations = []Operation{}
			d.array(16, true, func(d *objDecoder, path string, i int) {
				var op Operation
				op.decode(d, path, i)
				p.Operations = append(p.Operations, op)
			})
		case "ackedReqId":
			p.AckedReqID, _ = d.strOpt(32, false)
		case "outcomes":
			p.Outcomes = decodeOutcomes(&d, 64)
		default:
			d.unknown()
		}
	}
	d.require(1, "doc")
	d.require(2, "epoch")
	d.require(4, "fromRev")
	d.require(8, "toRev")
	d.require(16, "operations")
	return d.finishTop()
}

func (op *Operation) decode(parent *objDecoder, path string, index int) {
	d := parent.child(path, index, true)
	for d.next() {
		switch string(d.key) {
		case "rev":
			op.Rev = d.rev(1)
		case "type":
			op.Type = d.str(2)
		case "payload":
			op.Payload = d.raw(4, true, anyKind)
		case "clientId":
			op.ClientID, _ = d.strOpt(8, false)
		case "clientReqId":
			op.ClientReqID, _ = d.strOpt(16, false)
		case "ts":
			op.Ts, _ = d.int64(32, true)
		case "firstRev":
			if v, ok := d.uint(64, false, math.MaxUint64); ok {
				if v == 0 {
					d.fail(d.field(), "want a revision ≥ 1")
				}
				op.FirstRev = revision.Rev(v)
			}
		default:
			d.unknown()
		}
	}
	d.require(1, "rev")
	d.require(2, "type")
	d.require(4, "payload")
	d.require(32, "ts")
	if op.FirstRev > op.Rev {
		d.fail(d.join("firstRev"), "greater than rev")
	}
	parent.adopt(&d)
}

func (p SyncDeltas) AppendJSON(dst []byte) []byte {
	dst = appendStringField(dst, `{"doc":`, p.Doc)
	dst = appendStringField(dst, `,"epoch":`, string(p.Epoch))
	dst = appendUintField(dst, `,"fromRev":`, uint64(p.FromRev))
	dst = appendUintField(dst, `,"toRev":`, uint64(p.ToRev))
	dst = appendList(append(dst, `,"operations":`...), p.Operations)
	dst = appendOptString(dst, `,"ackedReqId":`, p.AckedReqID)
	dst = appendOutcomes(dst, p.Outcomes)
	return append(dst, '}')
}

func (op Operation) AppendJSON(dst []byte) []byte {
	dst = appendUintField(dst, `{"rev":`, uint64(op.Rev))
	dst = appendStringField(dst, `,"type":`, op.Type)
	dst = appendRawField(dst, `,"payload":`, op.Payload, "null")
	dst = appendOptString(dst, `,"clientId":`, op.ClientID)
	dst = appendOptString(dst, `,"clientReqId":`, op.ClientReqID)
	dst = appendIntField(dst, `,"ts":`, op.Ts)
	dst = appendOptUint(dst, `,"firstRev":`, uint64(op.FirstRev))
	return append(dst, '}')
}

// --- RevisionGap

func (p *RevisionGap) UnmarshalPayload(data []byte) error {
	d := newObjDecoder(data, "payload", true)
	*p = RevisionGap{}
	for d.next() {
		switch string(d.key) {
		case "doc":
			p.Doc = d.str(1)
		case "expectedRev":
			p.ExpectedRev = d.rev(2)
		case "serverRev":
			p.ServerRev = d.rev(4)
		case "bufferFirstRev":
			p.BufferFirstRev = d.rev(8)
		case "resumeFrom":
			p.ResumeFrom = d.rev(16)
		case "reason":
			p.Reason = d.str(32)
		default:
			d.unknown()
		}
	}
	for i, name := range []string{"doc", "expectedRev", "serverRev", "bufferFirstRev", "resumeFrom", "reason"} {
		d.require(1<<i, name)
	}
	return d.finishTop()
}

func (p RevisionGap) AppendJSON(dst []byte) []byte {
	dst = appendStringField(dst, `{"doc":`, p.Doc)
	dst = appendUintField(dst, `,"expectedRev":`, uint64(p.ExpectedRev))
	dst = appendUintField(dst, `,"serverRev":`, uint64(p.ServerRev))
	dst = appendUintField(dst, `,"bufferFirstRev":`, uint64(p.BufferFirstRev))
	dst = appendUintField(dst, `,"resumeFrom":`, uint64(p.ResumeFrom))
	dst = appendStringField(dst, `,"reason":`, p.Reason)
	return append(dst, '}')
}

// --- Presence

func (p *Presence) UnmarshalPayload(data []byte) error {
	d := newObjDecoder(data, "payload", true)
	*p = Presence{}
	for d.next() {
		switch string(d.key) {
		case "doc":
			p.Doc = d.str(1)
		case "clients":
			p.Clients = []PresenceClient{}
			d.array(2, true, func(d *objDecoder, path string, i int) {
				var c PresenceClient
				c.decode(d, path, i)
				p.Clients = append(p.Clients, c)
			})
		case "left":
			d.array(4, false, func(d *objDecoder, path string, i int) {
				if k := d.s.Peek(); k != jsonkit.KindString {
					d.typeError(path+"["+strconv.Itoa(i)+"]", "string", k)
					return
				}
				id, err := d.s.ReadString()
				d.err = err
				p.Left = append(p.Left, id)
			})
		default:
			d.unknown()
		}
	}
	d.require(1, "doc")
	d.require(2, "clients")
	return d.finishTop()
}

func (c *PresenceClient) decode(parent *objDecoder, path string, index int) {
	d := parent.child(path, index, true)
	for d.next() {
		switch string(d.key) {
		case "clientId":
			c.ClientID = d.str(1)
		case "state":
			c.State = d.raw(2, true, anyKind)
		default:
			d.unknown()
		}
	}
	d.require(1, "clientId")
	d.require(2, "state")
	parent.adopt(&d)
}

func (p Presence) AppendJSON(dst []byte) []byte {
	dst = appendStringField(dst, `{"doc":`, p.Doc)
	dst = appendList(append(dst, `,"clients":`...), p.Clients)
	if len(p.Left) > 0 {
		dst = appendStrings(append(dst, `,"left":`...), p.Left)
	}
	return append(dst, '}')
}

func (c PresenceClient) AppendJSON(dst []byte) []byte {
	dst = appendStringField(dst, `{"clientId":`, c.ClientID)
	dst = appendRawField(dst, `,"state":`, c.State, "{}")
	return append(dst, '}')
}

// --- Message

func (p *Message) UnmarshalPayload(data []byte) error {
	d := newObjDecoder(data, "payload", true)
	*p = Message{}
	for d.next() {
		switch string(d.key) {
		case "doc":
			p.Doc, _ = d.strOpt(1, false)
		case "topic":
			p.Topic, _ = d.strOpt(2, false)
		case "data":
			p.Data = d.raw(4, true, anyKind)
		case "from":
			p.From = d.str(8)
		default:
			d.unknown()
		}
	}
	d.require(4, "data")
	d.require(8, "from")
	return d.finishTop()
}

func (p Message) AppendJSON(dst []byte) []byte {
	dst = appendRawField(appendRoute(dst, p.Doc, p.Topic), `"data":`, p.Data, "null")
	dst = appendStringField(dst, `,"from":`, p.From)
	return append(dst, '}')
}

// --- ErrorPayload

func (p *ErrorPayload) UnmarshalPayload(data []byte) error {
	d := newObjDecoder(data, "payload", true)
	*p = ErrorPayload{}
	for d.next() {
		switch string(d.key) {
		case "code":
			p.Code = Code(d.str(1))
		case "message":
			// Required in what syncd sends, optional in ws-kit's schema.
			p.Message, _ = d.strOpt(2, false)
		case "details":
			p.Details = d.raw(4, false, objectKind)
		case "retryable":
			p.Retryable = d.boolOpt(8)
		case "retryAfterMs":
			// ws-kit allows null ("do not retry"): that is absent here.
			if v, ok := d.int64(16, false); ok {
				p.RetryAfterMs = &v
			}
		default:
			d.unknown()
		}
	}
	d.require(1, "code")
	return d.finishTop()
}

func (p ErrorPayload) AppendJSON(dst []byte) []byte {
	dst = appendStringField(dst, `{"code":`, string(p.Code))
	dst = appendStringField(dst, `,"message":`, p.Message)
	dst = appendOptRaw(dst, `,"details":`, p.Details)
	if p.Retryable != nil {
		dst = strconv.AppendBool(append(dst, `,"retryable":`...), *p.Retryable)
	}
	if p.RetryAfterMs != nil {
		dst = appendIntField(dst, `,"retryAfterMs":`, *p.RetryAfterMs)
	}
	return append(dst, '}')
}

func (e *Error) AppendJSON(dst []byte) []byte { return e.Payload().AppendJSON(dst) }

// UpdateErrorDetails is the details object of every error answering an
// UPDATE: {doc, clientReqId, serverRev}, and limit when the edit was
// refused for going over one; field first when the UPDATE itself failed
// decoding or validation (PROTOCOL.md §5.4).
type UpdateErrorDetails struct {
	// Field is the path of the field of a malformed UPDATE
	// ("payload.patch"), as in the details of any decoding error.
	Field       string       `json:"field,omitempty"`
	Doc         string       `json:"doc"`
	ClientReqID string       `json:"clientReqId"`
	ServerRev   revision.Rev `json:"serverRev"`
	// Limit is the name, as in HELLO.limits, of the limit the edit would
	// have gone over (maxDocumentBytes, maxDocumentDepth, maxPatchOps,
	// maxPatchWorkBytes).
	Limit string `json:"limit,omitempty"`
}

func (d UpdateErrorDetails) AppendJSON(dst []byte) []byte {
	if d.Field != "" {
		dst = appendStringField(dst, `{"field":`, d.Field)
		dst = appendStringField(dst, `,"doc":`, d.Doc)
	} else {
		dst = appendStringField(dst, `{"doc":`, d.Doc)
	}
	dst = appendStringField(dst, `,"clientReqId":`, d.ClientReqID)
	dst = appendUintField(dst, `,"serverRev":`, uint64(d.ServerRev))
	dst = appendOptString(dst, `,"limit":`, d.Limit)
	return append(dst, '}')
}

func msDuration(v int64) time.Duration {
	if v > math.MaxInt64/int64(time.Millisecond) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(v) * time.Millisecond
}

func (p Hello) MarshalJSON() ([]byte, error)              { return p.AppendJSON(nil), nil }
func (p *Hello) UnmarshalJSON(b []byte) error             { return p.UnmarshalPayload(b) }
func (p SyncSnapshot) MarshalJSON() ([]byte, error)       { return p.AppendJSON(nil), nil }
func (p *SyncSnapshot) UnmarshalJSON(b []byte) error      { return p.UnmarshalPayload(b) }
func (p SyncDeltas) MarshalJSON() ([]byte, error)         { return p.AppendJSON(nil), nil }
func (p *SyncDeltas) UnmarshalJSON(b []byte) error        { return p.UnmarshalPayload(b) }
func (op Operation) MarshalJSON() ([]byte, error)         { return op.AppendJSON(nil), nil }
func (p RevisionGap) MarshalJSON() ([]byte, error)        { return p.AppendJSON(nil), nil }
func (p *RevisionGap) UnmarshalJSON(b []byte) error       { return p.UnmarshalPayload(b) }
func (p Presence) MarshalJSON() ([]byte, error)           { return p.AppendJSON(nil), nil }
func (p *Presence) UnmarshalJSON(b []byte) error          { return p.UnmarshalPayload(b) }
func (c PresenceClient) MarshalJSON() ([]byte, error)     { return c.AppendJSON(nil), nil }
func (p Message) MarshalJSON() ([]byte, error)            { return p.AppendJSON(nil), nil }
func (p *Message) UnmarshalJSON(b []byte) error           { return p.UnmarshalPayload(b) }
func (p ErrorPayload) MarshalJSON() ([]byte, error)       { return p.AppendJSON(nil), nil }
func (p *ErrorPayload) UnmarshalJSON(b []byte) error      { return p.UnmarshalPayload(b) }
func (d UpdateErrorDetails) MarshalJSON() ([]byte, error) { return d.AppendJSON(nil), nil }
