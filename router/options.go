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
	// and a same-origin request (the Origin's scheme, host and port are
	// those the client used to reach the server) are always allowed.
	// Default: none beyond those two.
	AllowedOrigins []string

	// AllowedHosts are the Host values the router answers to (see
	// [ParseHostList]); a request for another host is refused with HTTP
	// 421 before anything else is checked. Default (the zero HostList):
	// on a connection made to a loopback address, only localhost,
	// 127.0.0.1 and [::1] (any port), so that a DNS-rebinding page cannot
	// use a loopback server; on other connections, any host.
	AllowedHosts HostList

	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host headers are
	// believed: they give the client's address ([ClientAddr]) and the
	// scheme and Host checked against AllowedHosts and the Origin.
	// Default: none (those headers are ignored).
	TrustedProxies TrustedProxies

	// Subprotocols the server speaks, in order of preference. The client's
	// "bearer.<token>" entry is never selected (nor echoed). Default (nil):
	// select the first non-bearer protocol the client offers, if any.
	Subprotocols []string

	// MaxMessageBytes bounds an inbound message; a larger one closes the
	// connection with 1009. Default 256 KiB.
	MaxMessageBytes int64

	// MessageTimeout bounds the time from a message's first frame to its
	// last: a message that has not arrived whole within it closes the
	// connection with 1013. Only a message that has to wait for the
	// network mid-way is timed (one that arrived whole costs nothing).
	// Default 10s; negative: no deadline.
	MessageTimeout time.Duration
	// MaxPartialBytes bounds the bytes held, across every connection, for
	// messages received in part (those that had to wait for the network
	// mid-way). A connection whose message would take the total past it
	// is closed with 1013. Default 64 MiB; negative: no budget.
	MaxPartialBytes int64

	// MaxConns bounds the connections of the router, MaxConnsPerAddr those
	// from one client address (see ClientAddr); an upgrade past either is
	// refused with HTTP 503 and Retry-After (ConnRetryAfter). A connection
	// counts from just before its upgrade until its socket is closed.
	// Defaults: MaxConns the process's limit on open files less an eighth
	// of it (and at least 64) for everything else, or no cap where the
	// limit is unknown; MaxConnsPerAddr 256. Negative: no cap.
	MaxConns        int
	MaxConnsPerAddr int
	// ConnRetryAfter is the Retry-After of an upgrade refused by a cap.
	// Default 5s.
	ConnRetryAfter time.Duration
	// ClientAddr names the client of an upgrade request for
	// MaxConnsPerAddr. Default: [ClientAddr] with TrustedProxies (the TCP
	// peer, or the client a trusted proxy names in X-Forwarded-For).
	ClientAddr func(*http.Request) string

	// QueueBytes bounds a connection's outbound queue (messages accepted by
	// Send and not yet written). A send that would exceed it is refused with
	// ErrQueueFull and handled by OnQueueFull. One message larger than the
	// bound is still accepted into an empty queue. Default 1 MiB.
	QueueBytes int

	// DroppableQueueBytes is the outbound budget of droppable frames (see
	// [Frame.Droppable]): one is queued only while the connection's queue,
	// with it, stays within this many bytes; past it the frame is dropped
	// for that connection (the send fails with ErrDropped), which stays
	// open. So best-effort traffic can never overflow a queue and close a
	// connection as a slow consumer. Default QueueBytes/4.
	DroppableQueueBytes int

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
	// client sent, or 1006 if the connection just dropped. It also runs
	// for a connection refused right after its upgrade, whose OnOpen never
	// ran (the router shutting down, a stale attempt, attempt.go): such a
	// connection never became its client id's live one.
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
	// Attempt is the connection attempt's value, the query parameter
	// "attempt" (attempt.go), or "" if the client sent none. Authenticate
	// may refuse an attempt it knows to be stale (say with an ABORTED
	// protocol error: HTTP 409).
	Attempt string
}

func (o Options) withDefaults() Options {
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = 256 << 10
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 1 << 20
	}
	if o.DroppableQueueBytes <= 0 {
		o.DroppableQueueBytes = o.QueueBytes / 4
	}
	// A droppable frame must never overflow the queue (and close the
	// connection): its budget is at most the queue's.
	o.DroppableQueueBytes = min(o.DroppableQueueBytes, o.QueueBytes)
	if o.MessageTimeout == 0 {
		o.MessageTimeout = 10 * time.Second
	}
	if o.MaxPartialBytes == 0 {
		o.MaxPartialBytes = 64 << 20
	}
	if o.MaxConns == 0 {
		o.MaxConns = defaultMaxConns(openFileLimit())
	}
	if o.MaxConnsPerAddr == 0 {
		o.MaxConnsPerAddr = 256
	}
	if o.ConnRetryAfter <= 0 {
		o.ConnRetryAfter = 5 * time.Second
	}
	if o.ClientAddr == nil {
		trusted := o.TrustedProxies
		o.ClientAddr = func(req *http.Request) string {
			if a := ClientAddr(req, trusted); a.IsValid() {
				return a.String()
			}
			return RemoteHost(req)
		}
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
