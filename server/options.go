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
	// The server counts into them and changes nothing else about them
	// (its scrape-time metrics of the engine and the router are its own:
	// Server.Gatherer); one Metrics serves one server.
	Metrics *Metrics

	// APIKey guards the HTTP API (/v1/...). Empty turns the API off.
	APIKey string

	// AdminKey turns on the admin page at /admin (admin.go): an operator
	// signs in with this key. Empty: APIKey is the admin key; both empty,
	// the page is off (404).
	AdminKey string
	// AdminSessionTTL is how long an admin sign-in lasts. Default
	// DefaultAdminSessionTTL (12h).
	AdminSessionTTL time.Duration
	// AdminStore describes the store on the admin page (e.g. "bolt
	// /var/lib/syncd/syncd.db"); informational only.
	AdminStore string

	// JWTSecret, if set, turns on authentication: every WebSocket
	// connection needs a JWT (see auth.go), here an HS256 one signed with
	// this secret of at least MinJWTSecretBytes (32) bytes; New refuses a
	// shorter one. Empty, and no JWTKeys: anyone who can reach the server
	// may connect.
	JWTSecret []byte
	// JWTKeys, if set, turn on authentication with public keys: RS256,
	// ES256 and EdDSA tokens verified by these keys (see ParsePublicKeyPEM
	// and ParseJWKS). With JWTSecret too, both kinds are accepted.
	JWTKeys []JWTKey
	// JWTAudience, if set, must be in each token's aud claim.
	JWTAudience string
	// JWTIssuer, if set, must be each token's iss claim.
	JWTIssuer string
	// JWTLeeway is the clock skew allowed on exp and nbf, both at the
	// upgrade and for closing a connection whose token expired (4401 at
	// exp + JWTLeeway). Default DefaultJWTLeeway (30s); negative: none.
	JWTLeeway time.Duration

	// AllowedOrigins lists the Origin values browsers may connect from
	// ("*" allows any). Empty: only same-origin requests and clients that
	// send no Origin (non-browsers).
	AllowedOrigins []string

	// AllowedHosts are the Host header values the server answers to, on
	// every route but /healthz and /readyz (see router.ParseHostList:
	// names, "name:port", "*.domain", IP addresses, CIDRs, "*" for any);
	// a request for another host is refused with HTTP 421, which is what
	// stops a DNS-rebinding page. Default (empty): on connections made to
	// a loopback address, only localhost, 127.0.0.1 and [::1] (any port);
	// on other connections any host — list the server's public names to
	// be protected there too.
	AllowedHosts []string

	// TrustedProxies are the reverse proxies (CIDRs or addresses) whose
	// X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host are
	// believed: the client's address (router.ClientAddr), and the scheme
	// and Host checked against AllowedHosts and the Origin, come from
	// them. Default: none (the headers are ignored).
	TrustedProxies []string

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

	// HTTPReadTimeout bounds reading the body of an HTTP API request that
	// has one (POST edits), from the start of the request. Default
	// DefaultHTTPReadTimeout. Other requests' bodies are never read.
	HTTPReadTimeout time.Duration
	// HTTPWriteTimeout bounds writing the response to an HTTP request, from
	// its start; for GET /v1/backup it bounds each chunk of the stream
	// instead (a client that stops reading for this long is cut off).
	// Default DefaultHTTPWriteTimeout. WebSocket connections are bounded
	// by the router (its WriteTimeout), not by this.
	HTTPWriteTimeout time.Duration

	// Backup, if set, streams a consistent copy of the database for
	// GET /v1/backup (cmd/syncd passes boltstore's Backup). w is the
	// client's connection, as slow as the client: Backup must not hold
	// anything commits wait for while it writes to w (boltstore's copies
	// its snapshot aside first). A write to w fails once the client has
	// taken nothing for HTTPWriteTimeout.
	Backup func(ctx context.Context, w io.Writer) (int64, error)

	// Bus, if set, makes this server one instance of a cluster serving the
	// same documents (cluster.go): room messages, presence and client id
	// claims travel between instances on it (internal/natsbus is one on
	// NATS). Nil: a single node, with nothing extra per message.
	Bus Bus
	// BusHeartbeatInterval is how often the instance sends its heartbeat
	// on the Bus. Default DefaultBusHeartbeatInterval (2s).
	BusHeartbeatInterval time.Duration
	// BusPeerTimeout is how long another instance may stay silent on the
	// Bus before it counts as dead and its clients' presence is dropped
	// (within BusPeerTimeout + BusHeartbeatInterval of its last heartbeat).
	// It must be longer than BusHeartbeatInterval (New refuses it
	// otherwise). Default DefaultBusMissedHeartbeats (3) ×
	// BusHeartbeatInterval: 6s.
	BusPeerTimeout time.Duration
	// BusRoomWait bounds how long a JOIN waits for the other instances'
	// presence in the document when this instance starts showing its room,
	// so the JOIN's answer carries the merged room; what comes later
	// arrives as PRESENCE changes. Default DefaultBusRoomWait (250ms).
	BusRoomWait time.Duration
	// Forwarder, with a Bus that implements BusRequester, carries the
	// engine's forwarded edits (the same Forwarder must be the engine's
	// syncd.Options.Forwarder): a document contended by several
	// instances has its edits decided by one (cluster_forward.go). Nil:
	// this instance forwards nothing, but still decides what others
	// forward to it.
	Forwarder *Forwarder
	// BusForwardTimeout bounds the wait for the answer to a forwarded
	// edit; past it, this instance decides the edit itself (the log's
	// de-duplication settles a double decision). Default
	// DefaultBusForwardTimeout (5s).
	BusForwardTimeout time.Duration
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
	// sends (the flood guard). Defaults 200/s, and a burst of two
	// seconds' worth (at least 1): 400 at the default rate.
	MessagesPerSecond float64
	Burst             int
	// UpdatesPerSecond and UpdateBurst rate-limit UPDATEs, with refusals
	// that carry the edit's details. Defaults 100/s, and a burst of two
	// seconds' worth (at least 1): 200 at the default rate.
	UpdatesPerSecond float64
	UpdateBurst      int
	// DocsPerMinute rate-limits the documents one connection creates (a
	// JOIN of an id that does not exist), a minute's worth at once;
	// beyond it the JOIN is refused RESOURCE_EXHAUSTED with retryAfterMs
	// and creates nothing. Default 60.
	DocsPerMinute int
	// UserDocsPerMinute is the same limit per user, over all of the
	// user's connections, when authentication is on (the token's sub).
	// Default 120.
	UserDocsPerMinute int
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
	// WriteTimeout bounds each write to a connection: a client that
	// accepts no bytes for this long is disconnected (its queue then
	// fills no further). Default 10s.
	WriteTimeout time.Duration
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

// Defaults of the HTTP request bounds (Options.HTTPReadTimeout,
// Options.HTTPWriteTimeout) and of an admin sign-in's lifetime
// (Options.AdminSessionTTL).
const (
	DefaultAdminSessionTTL  = 12 * time.Hour
	DefaultHTTPReadTimeout  = 30 * time.Second
	DefaultHTTPWriteTimeout = 30 * time.Second
)

// presenceBurst is the burst of the presence rate: two values of the
// largest size, so a value of any allowed size can always pass once the
// bucket has refilled.
func (l Limits) presenceBurst() int { return 2 * l.MaxPresenceBytes }

// twoSeconds is the default burst of a rate: two seconds' worth, so that a
// client at the rate may bunch its messages a little, and at least one, so
// that a rate below 0.5/s still lets a message through.
func twoSeconds(perSecond float64) int { return max(1, int(2*perSecond)) }

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.JWTLeeway == 0 {
		o.JWTLeeway = DefaultJWTLeeway
	}
	if o.AdminSessionTTL <= 0 {
		o.AdminSessionTTL = DefaultAdminSessionTTL
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.HTTPReadTimeout <= 0 {
		o.HTTPReadTimeout = DefaultHTTPReadTimeout
	}
	if o.HTTPWriteTimeout <= 0 {
		o.HTTPWriteTimeout = DefaultHTTPWriteTimeout
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
		l.Burst = twoSeconds(l.MessagesPerSecond)
	}
	if l.UpdatesPerSecond <= 0 {
		l.UpdatesPerSecond = 100
	}
	if l.UpdateBurst <= 0 {
		l.UpdateBurst = twoSeconds(l.UpdatesPerSecond)
	}
	if l.DocsPerMinute <= 0 {
		l.DocsPerMinute = 60
	}
	if l.UserDocsPerMinute <= 0 {
		l.UserDocsPerMinute = 120
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
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 10 * time.Second
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
