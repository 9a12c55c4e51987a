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

	// HeartbeatInterval is how often the server checks each connection,
	// pinging those it has not heard from for half of it. Default 10s.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout closes a connection nothing was heard from for this
	// long (a pong, a frame), between HeartbeatTimeout and
	// HeartbeatTimeout + HeartbeatInterval after it fell silent. It must be
	// longer than HeartbeatInterval (New refuses it otherwise: every idle
	// client would be closed). Default 2.5 × HeartbeatInterval (25s), so a
	// dead client leaves the presence list within 35s.
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
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = o.HeartbeatInterval * 5 / 2 // DefaultHeartbeatTimeout for the default interval
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
	return o
}
