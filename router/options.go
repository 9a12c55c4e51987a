package router

import (
	"context"
	"net/http"
	"time"

	"github.com/deltasync/syncd/protocol"
)

// Options configure a [Router]. The zero value of every field means its
// default; a negative value disables a limit where the field says so.
type Options struct {
	// Authenticate is called for every upgrade request, before the
	// upgrade, with the credentials found in it (see [AuthRequest]). It
	// returns the connection's data (available as [Conn.Data]) or an error:
	// an error with code PERMISSION_DENIED refuses the upgrade with HTTP
	// 403, any other with HTTP 401. Nil: everyone may connect.
	Authenticate func(AuthRequest) (any, error)

	// AllowedOrigins lists the Origin values a browser may connect from:
	// "https://app.example.com", "https://*.example.com" (any subdomain),
	// or "*" (anyone). A request without an Origin header (not a browser)
	// and a same-origin request are always allowed. Default: none beyond
	// those two.
	AllowedOrigins []string

	// Subprotocols the server speaks, in order of preference. The client's
	// "bearer.<token>" entry is never selected (nor echoed). Default (nil):
	// select the first non-bearer protocol the client offers, if any.
	Subprotocols []string

	// MaxMessageBytes bounds an inbound message; a larger one closes the
	// connection with 1009. Default 256 KiB.
	MaxMessageBytes int64

	// QueueBytes bounds a connection's outbound queue (messages accepted by
	// Send and not yet written). A send that would exceed it is refused with
	// ErrQueueFull and handled by OnQueueFull. One message larger than the
	// bound is still accepted into an empty queue. Default 1 MiB.
	QueueBytes int

	// MessagesPerSecond and Burst configure each connection's flood guard, a
	// token bucket: messages beyond it are answered with RESOURCE_EXHAUSTED
	// (with retryAfterMs) and not handled. Defaults 50 per second, burst
	// 2×rate; a negative rate disables the guard.
	MessagesPerSecond float64
	Burst             int
	// FloodCloseAfter is how many refused messages in a row close the
	// connection with CloseFlood. Default 100.
	FloodCloseAfter int

	// HeartbeatInterval is how often connections are checked: one not
	// heard from for half an interval is pinged. Default 25s; negative
	// disables heartbeats.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout closes a connection from which nothing (no message,
	// no pong) was heard for this long, with CloseHeartbeatTimeout. The
	// check runs every HeartbeatInterval, so a dead connection is closed
	// between HeartbeatTimeout and HeartbeatTimeout+HeartbeatInterval after
	// it went silent. It should exceed HeartbeatInterval by more than a
	// round trip, or a client that only answers pings is closed. Default
	// 2×HeartbeatInterval.
	HeartbeatTimeout time.Duration

	// WriteTimeout bounds each network write. A client that accepts no
	// bytes for this long is disconnected. Default 10s.
	WriteTimeout time.Duration
	// CloseTimeout is how long a closing connection waits for the client's
	// close frame before dropping the TCP connection. Default 3s.
	CloseTimeout time.Duration
	// HandshakeTimeout bounds the upgrade. Default 10s.
	HandshakeTimeout time.Duration

	// ReadBufferSize is the size of a connection's read buffer. A
	// connection holds one only while it reads: the buffers are pooled
	// while connections wait for input, except over TLS and at 256 bytes
	// or less, where each connection keeps its own (see the package
	// documentation). Large messages are read through it directly.
	// Default 512 (gorilla's minimum is 125).
	ReadBufferSize int

	// Broker carries published messages to topic subscribers. Default: a
	// new [MemoryBroker], owned (and closed) by the router. A Broker passed
	// here is the caller's to close.
	Broker Broker

	// BaseContext is the parent of every connection's context. Default
	// context.Background().
	BaseContext context.Context

	// OnOpen runs on the connection's reader goroutine before its first
	// message is read; messages sent from it are the first the client gets.
	OnOpen func(*Conn)
	// OnClose runs on the connection's reader goroutine once everything
	// else is done: the writer stopped, the TCP connection closed, topics
	// left. code and reason are those the server sent, or else those the
	// client sent, or 1006 if the connection just dropped.
	OnClose func(c *Conn, code int, reason string)
	// OnError receives every error returned by a handler or middleware
	// (after it was answered), and panics recovered from handlers and hooks
	// (as [*PanicError]). It may run on any goroutine.
	OnError func(c *Conn, err error)
	// OnStale runs on the connection's reader goroutine, just before
	// OnClose, when the connection was closed for a heartbeat timeout.
	OnStale func(*Conn)
	// OnQueueFull decides what happens to a send that would overflow the
	// connection's queue: [OverflowClose] (the default when nil) closes the
	// connection with CloseSlowConsumer; [OverflowDrop] drops the message
	// and keeps the connection. It runs on the sender's goroutine and must
	// not block or send to c.
	OnQueueFull func(c *Conn, f *Frame) OverflowAction

	// MapError turns an error returned by a handler into what the client
	// is told. Default [protocol.AsError]: the *protocol.Error in the
	// chain, or INTERNAL "internal error" for anything else.
	MapError func(error) *protocol.Error
}

// OverflowAction is what to do with a send that would overflow a
// connection's outbound queue.
type OverflowAction int

const (
	// OverflowClose closes the connection with CloseSlowConsumer, freeing
	// its queue; the client reconnects and resumes.
	OverflowClose OverflowAction = iota
	// OverflowDrop drops the message; the client misses it.
	OverflowDrop
)

// AuthRequest is what Authenticate sees of an upgrade request.
type AuthRequest struct {
	// Request is the HTTP upgrade request. Do not keep it.
	Request *http.Request
	// Token is the bearer token, from the first of: the query parameter
	// access_token, a Sec-WebSocket-Protocol entry "bearer.<token>", or an
	// "Authorization: Bearer <token>" header. Empty if none.
	Token string
	// ClientID is the connection's client id in canonical form: the
	// client's clientId query parameter, or a new ULID if it sent none
	// (then ClientIDAssigned is true). Authenticate may refuse a client id
	// that belongs to another user.
	ClientID         string
	ClientIDAssigned bool
}

func (o Options) withDefaults() Options {
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = 256 << 10
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 1 << 20
	}
	if o.MessagesPerSecond == 0 {
		o.MessagesPerSecond = 50
	}
	if o.Burst <= 0 {
		o.Burst = max(1, int(2*o.MessagesPerSecond))
	}
	if o.FloodCloseAfter <= 0 {
		o.FloodCloseAfter = 100
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = 25 * time.Second
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = 2 * o.HeartbeatInterval
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = 3 * time.Second
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = 512
	}
	if o.BaseContext == nil {
		o.BaseContext = context.Background()
	}
	if o.MapError == nil {
		o.MapError = protocol.AsError
	}
	return o
}
