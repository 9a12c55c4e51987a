package server

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// Options configure a [Server]. The zero value is ready to use: every field
// documents its default.
type Options struct {
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger

	// Metrics are the server's Prometheus metrics. Default NewMetrics();
	// create them yourself to wire the engine's ObserveCommit to them.
	Metrics *Metrics

	// APIKey guards the HTTP API (/v1/...). Empty turns the API off.
	APIKey string

	// JWTSecret, if set, turns on authentication: every WebSocket
	// connection needs an HS256 JWT signed with it (see auth.go). Empty:
	// anyone who can reach the server may connect.
	JWTSecret []byte

	// OwnerGrace is how long, with JWTSecret set, a client id stays bound
	// to the user who used it after its last connection closed; within
	// it, no other user may connect with that id. Default
	// DefaultOwnerGrace (24h). The binding lives in memory: a restart
	// clears it.
	OwnerGrace time.Duration

	// AllowedOrigins lists the Origin values browsers may connect from
	// ("*" allows any). Empty: only same-origin requests and clients that
	// send no Origin (non-browsers).
	AllowedOrigins []string

	// HeartbeatInterval is how often the server pings each connection.
	// Default 15s.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout closes a connection nothing was heard from for this
	// long (a pong, a frame). Default 3 × HeartbeatInterval.
	HeartbeatTimeout time.Duration

	// Limits bound what one connection may do.
	Limits Limits

	// Backup, if set, streams a consistent copy of the database for
	// GET /v1/backup (cmd/syncd passes boltstore's Backup).
	Backup func(ctx context.Context, w io.Writer) (int64, error)
}

// Limits bound what one connection may do. Zero fields take the defaults.
type Limits struct {
	// MaxMessageBytes is the largest inbound message; a larger one closes
	// the connection with 1009. Default 1 MiB.
	MaxMessageBytes int64
	// MaxDocsPerConn is how many documents one connection may have joined
	// at once. Default 100.
	MaxDocsPerConn int
	// MessagesPerSecond and Burst rate-limit everything a connection
	// sends (the flood guard). Defaults 200/s, burst 400.
	MessagesPerSecond float64
	Burst             int
	// UpdatesPerSecond and UpdateBurst rate-limit UPDATEs, with refusals
	// that carry the edit's details. Defaults 100/s, burst 200.
	UpdatesPerSecond float64
	UpdateBurst      int
	// OutboundQueueBytes bounds what may wait to be written to one
	// connection; past it the connection is closed (4503, reconnect and
	// resume). Default 8 MiB.
	OutboundQueueBytes int
	// RoomQueueBytes is the per-connection budget of room messages
	// (MESSAGE, from PUBLISH): one is queued for a connection only while
	// its outbound queue holds at most this many bytes; past it the
	// message is dropped for that connection, which stays open (see
	// roomlimits.go). Default OutboundQueueBytes/8 (1 MiB).
	RoomQueueBytes int

	// MaxPresenceBytes bounds a presence value (the JSON of
	// PRESENCE.SET.state or JOIN.presence, as sent); a larger one is
	// refused INVALID_ARGUMENT. Default 64 KiB.
	MaxPresenceBytes int
	// PresenceBytesPerSecond bounds the presence bytes one connection may
	// set, a token bucket with a burst of twice MaxPresenceBytes; a value
	// beyond it is refused RESOURCE_EXHAUSTED with retryAfterMs. Default
	// 64 KiB per second.
	PresenceBytesPerSecond int
	// MaxPublishBytes bounds the data of a PUBLISH; a larger one is refused
	// INVALID_ARGUMENT. Default 64 KiB.
	MaxPublishBytes int

	// MessageTimeout bounds the time from an inbound message's first frame
	// to its last, once it has to wait for the network; past it the
	// connection is closed with 1013. Default 10s.
	MessageTimeout time.Duration
	// MaxPartialBytes bounds the bytes of partly received messages held
	// across all connections; the connection whose message would pass it
	// is closed with 1013. Default 64 MiB.
	MaxPartialBytes int64

	// MaxConns bounds the WebSocket connections of the server, and
	// MaxConnsPerAddr those from one client address (clientAddr); an
	// upgrade past either is refused with HTTP 503 and Retry-After.
	// Defaults: MaxConns the process's open-file limit less an eighth
	// (at least 64) kept for everything else (negative: no cap);
	// MaxConnsPerAddr 256.
	MaxConns        int
	MaxConnsPerAddr int
}

// presenceBurst is the burst of the presence rate: two values of the
// largest size, so a value of any allowed size can always pass once the
// bucket has refilled.
func (l Limits) presenceBurst() int { return 2 * l.MaxPresenceBytes }

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 15 * time.Second
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = 3 * o.HeartbeatInterval
	}
	l := &o.Limits
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = 1 << 20
	}
	if l.MaxDocsPerConn <= 0 {
		l.MaxDocsPerConn = 100
	}
	if l.MessagesPerSecond <= 0 {
		l.MessagesPerSecond = 200
	}
	if l.Burst <= 0 {
		l.Burst = 400
	}
	if l.UpdatesPerSecond <= 0 {
		l.UpdatesPerSecond = 100
	}
	if l.UpdateBurst <= 0 {
		l.UpdateBurst = 200
	}
	if l.OutboundQueueBytes <= 0 {
		l.OutboundQueueBytes = 8 << 20
	}
	if l.RoomQueueBytes <= 0 {
		l.RoomQueueBytes = l.OutboundQueueBytes / 8
	}
	if l.MaxPresenceBytes <= 0 {
		l.MaxPresenceBytes = 64 << 10
	}
	if l.PresenceBytesPerSecond <= 0 {
		l.PresenceBytesPerSecond = 64 << 10
	}
	if l.MaxPublishBytes <= 0 {
		l.MaxPublishBytes = 64 << 10
	}
	if l.MessageTimeout <= 0 {
		l.MessageTimeout = 10 * time.Second
	}
	if l.MaxPartialBytes <= 0 {
		l.MaxPartialBytes = 64 << 20
	}
	// MaxConns: zero lets the router derive it from the open-file limit.
	if l.MaxConnsPerAddr <= 0 {
		l.MaxConnsPerAddr = 256
	}
	return o
}
