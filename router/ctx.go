package router

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/deltasync/syncd/protocol"
)

// Ctx is one inbound message being handled: the connection it came on,
// its type, meta and raw payload, and the means to answer it.
//
// A Ctx stays valid after the handler returns, so a handler may hand it to
// other goroutines and answer later (for example once an edit is durable);
// every method is safe to call from any goroutine.
type Ctx struct {
	conn    *Conn
	typ     string
	meta    protocol.Meta
	payload json.RawMessage

	mu      sync.Mutex // orders Progress before the terminal reply
	replied bool
}

// Conn returns the connection the message came on.
func (x *Ctx) Conn() *Conn { return x.conn }

// Type returns the message type.
func (x *Ctx) Type() string { return x.typ }

// Meta returns the message's meta. Its Timestamp is the client's clock:
// informational only.
func (x *Ctx) Meta() protocol.Meta { return x.meta }

// CorrelationID returns meta.correlationId ("" if none).
func (x *Ctx) CorrelationID() string { return x.meta.CorrelationID }

// IsRPC reports whether the message is a request that expects a reply,
// that is, whether it carries a correlationId.
func (x *Ctx) IsRPC() bool { return x.meta.CorrelationID != "" }

// Payload returns the raw payload (nil if the message had none). It is the
// message's own copy: the handler may keep it; nobody may modify it.
func (x *Ctx) Payload() json.RawMessage { return x.payload }

// Context returns the connection's context, cancelled when it ends.
func (x *Ctx) Context() context.Context { return x.conn.Context() }

// Send sends a message to the connection, outside the request/reply
// exchange (no correlationId). See [Conn.Send].
func (x *Ctx) Send(typ string, payload any) error { return x.conn.Send(typ, payload) }
