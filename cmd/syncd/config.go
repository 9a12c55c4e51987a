package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/router"
	"github.com/deltasync/syncd/server"
)

// Config is everything the flags set.
type Config struct {
	Addr             string
	DataDir          string
	Store            string // "bolt", "memory" or "nats"
	RingSize         int
	SnapshotInterval int
	Retention        int
	MaxDocBytes      int
	MaxLoadedDocs    int
	MaxLoadedBytes   int64
	MaxDocDepth      int
	MaxPatchOps      int
	MaxPatchWork     int
	GroupCommitWait  time.Duration
	Policies         string // "prefix=policy,prefix=policy"
	Schemas          string // "prefix=file.json,prefix=file.json"

	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration
	MaxMessageBytes   int64
	MaxDocsPerConn    int
	MessagesPerSecond float64
	UpdatesPerSecond  float64
	QueueBytes        int
	DocsPerMinute     int
	UserDocsPerMinute int
	Transport         TransportConfig
	Bus               BusConfig
	Webhooks          WebhookConfig
	Cluster           ClusterConfig // -store nats (config_cluster.go)

	Origins   string
	APIKey    string
	JWTSecret string
	TLSCert   string
	TLSKey    string
	LogFormat string
	LogLevel  string
	PprofAddr string

	// The admin page (server/admin.go).
	AdminKey        string
	AdminSessionTTL time.Duration

	// Who may reach the server through which names and proxies.
	Hosts          string // comma-separated; see router.ParseHostList
	TrustedProxies string // comma-separated CIDRs or addresses
	// HTTP request bounds (server/httpbounds.go) and the shutdown
	// (shutdown.go).
	HTTPIdleTimeout  time.Duration
	HTTPReadTimeout  time.Duration
	HTTPWriteTimeout time.Duration
	Drain            time.Duration
	ShutdownTimeout  time.Duration
	// The other JWT flags (jwtconfig.go).
	JWTPublicKey string
	JWTJWKS      string
	JWTAudience  string
	JWTIssuer    string
	JWTLeeway    time.Duration
}

var errHelp = errors.New("help requested")

// maxDocDepthCeiling is the deepest -max-doc-depth may allow: the
// protocol's message reader (server and Go SDK) stops at 512 levels, and a
// SYNC.DELTAS message nests an operation's value 6 levels inside it
// (envelope, payload, operations, operation, JSON Patch, patch
// operation). A deeper document could be made but not sent.
const maxDocDepthCeiling = 500

// maxGroupCommitWait bounds -group-commit-wait: the wait is meant to be
// about one disk sync; waits of this length would only add latency.
const maxGroupCommitWait = 100 * time.Millisecond

// ParseFlags fills the configuration from args and, for flags not on the
// command line, from the environment (SYNCD_<NAME>).
func (m *Main) ParseFlags(args []string, getenv func(string) string) error {
	c := &m.Config
	fs := flag.NewFlagSet("syncd", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "address to listen on (loopback by default; use :8080 for every interface)")
	fs.StringVar(&c.DataDir, "data", "./data", "directory of the bbolt database (syncd.db)")
	fs.StringVar(&c.Store, "store", "bolt", "store: bolt (durable), memory (lost on exit; for tests and demos) or nats (JetStream: a cluster of syncd instances, embedded or on external NATS; docs/cluster.md)")
	fs.IntVar(&c.RingSize, "ring-size", 1024, "recent operations kept in memory per document, for catch-up and rebase")
	fs.IntVar(&c.SnapshotInterval, "snapshot-interval", 1000, "operations between stored snapshots of a document")
	fs.IntVar(&c.Retention, "retention", 100000, "operations kept in each document's log (older ones are served as a snapshot)")
	fs.IntVar(&c.MaxDocBytes, "max-doc-bytes", 1<<20, "largest document, encoded, in bytes")
	fs.IntVar(&c.MaxLoadedDocs, "max-loaded-docs", syncd.DefaultMaxLoadedDocs, "documents kept in memory at once; idle ones are unloaded first, and a JOIN is refused RESOURCE_EXHAUSTED when all are in use")
	fs.Int64Var(&c.MaxLoadedBytes, "max-loaded-bytes", syncd.DefaultMaxLoadedBytes, "estimated memory of the documents kept in memory (encoded state and recent operations, plus 2 KiB each and 160 bytes per client watermark cached); beyond it idle ones are unloaded first, and a JOIN is refused RESOURCE_EXHAUSTED when all are in use")
	fs.IntVar(&c.MaxDocDepth, "max-doc-depth", 256, fmt.Sprintf("deepest nesting of a document's objects and arrays (at most %d)", maxDocDepthCeiling))
	fs.IntVar(&c.MaxPatchOps, "max-patch-ops", 1000, "most operations in one JSON Patch")
	fs.IntVar(&c.MaxPatchWork, "max-patch-work-bytes", 0, "most bytes of the document one edit may remove, replace, copy or move deeper (default 2 × -max-doc-bytes)")
	fs.DurationVar(&c.GroupCommitWait, "group-commit-wait", 0, "longest the committer waits, before a commit, for clients expected to send their next edit within a few commits (they then share one sync); 0: about one commit's time, at most 2ms (20ms with -store nats); negative: never wait")
	fs.StringVar(&c.Policies, "policy", "", `conflict policy by document-id prefix, e.g. "scores/=lww,ledger/=strict" (default rebase)`)
	fs.StringVar(&c.Schemas, "schema", "", `JSON Schema (draft 2020-12) files by document-id prefix, e.g. "todos:=schemas/todo.json,notes:=n.json"; edits that would make a document invalid are refused (longest prefix wins; default none)`)
	fs.DurationVar(&c.HeartbeatInterval, "heartbeat", server.DefaultHeartbeatInterval, "interval between liveness checks of each connection (a silent one is pinged)")
	fs.DurationVar(&c.HeartbeatTimeout, "heartbeat-timeout", server.DefaultHeartbeatTimeout, "close a connection silent for this long (more than -heartbeat)")
	fs.Int64Var(&c.MaxMessageBytes, "max-message-bytes", 1<<20, "largest inbound message")
	fs.IntVar(&c.MaxDocsPerConn, "max-docs-per-conn", 100, "documents one connection may join at once")
	fs.Float64Var(&c.MessagesPerSecond, "rate", 200, "messages per second per connection (flood guard; burst twice that)")
	fs.Float64Var(&c.UpdatesPerSecond, "update-rate", 100, "UPDATEs per second per connection (burst twice that)")
	fs.IntVar(&c.DocsPerMinute, "docs-per-minute", 60, "documents one connection may create a minute (a minute's worth at once)")
	fs.IntVar(&c.UserDocsPerMinute, "user-docs-per-minute", 120, "documents one user (JWT sub) may create a minute over all connections, with authentication on (-jwt-secret, -jwt-public-key or -jwt-jwks)")
	fs.IntVar(&c.QueueBytes, "queue-bytes", 8<<20, "outbound bytes that may wait for one connection before it is closed as a slow consumer")
	c.Transport.transportFlags(fs)
	c.Bus.busFlags(fs)
	c.Webhooks.webhookFlags(fs)
	c.Cluster.clusterFlags(fs)
	fs.StringVar(&c.Origins, "origins", "", `comma-separated Origins browsers may connect from ("*" for any; default same-origin only)`)
	fs.StringVar(&c.Hosts, "hosts", "", `comma-separated Host names the server answers to, e.g. "sync.example.com,10.0.0.0/8" (name, name:port, *.domain, IP, CIDR, or "*" for any); other hosts get HTTP 421, which stops DNS rebinding. Default: localhost, 127.0.0.1 and [::1] on loopback connections, any host on others (/healthz and /readyz answer any host)`)
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", `comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-For, -Proto and -Host are believed (default none)`)
	fs.StringVar(&c.APIKey, "api-key", "", "key for the HTTP API (/v1/...); empty turns the API off")
	fs.StringVar(&c.AdminKey, "admin-key", "", "key to sign in to the admin page at /admin; empty: the -api-key signs in, and without either the page is off")
	fs.DurationVar(&c.AdminSessionTTL, "admin-session-ttl", server.DefaultAdminSessionTTL, "how long an admin page sign-in lasts")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "", "HS256 secret of at least 32 bytes; when set, every connection needs a JWT")
	fs.StringVar(&c.JWTPublicKey, "jwt-public-key", "", "PEM file of a public key (RSA, ECDSA P-256 or Ed25519) verifying RS256, ES256 or EdDSA tokens; when set, every connection needs a JWT")
	fs.StringVar(&c.JWTJWKS, "jwt-jwks", "", "JWKS file of public keys, chosen by the token's kid; when set, every connection needs a JWT")
	fs.StringVar(&c.JWTAudience, "jwt-audience", "", "when set, a token's aud claim must name it")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", "", "when set, a token's iss claim must equal it")
	fs.DurationVar(&c.JWTLeeway, "jwt-leeway", server.DefaultJWTLeeway, "clock skew allowed on a token's exp and nbf; a connection is closed (4401) at exp plus this unless it sent AUTH.REFRESH")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file (serve wss:// and https://)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS key file")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "serve Go's profiler (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060; empty: off")
	fs.DurationVar(&c.HTTPIdleTimeout, "http-idle-timeout", 60*time.Second, "close an idle HTTP keep-alive connection after this long")
	fs.DurationVar(&c.HTTPReadTimeout, "http-read-timeout", server.DefaultHTTPReadTimeout, "bound on reading an HTTP API request body (other requests' bodies are never read)")
	fs.DurationVar(&c.HTTPWriteTimeout, "http-write-timeout", server.DefaultHTTPWriteTimeout, "bound on writing an HTTP response; for /v1/backup, on each chunk of the stream")
	fs.DurationVar(&c.Drain, "drain", 5*time.Second, "on SIGTERM, answer 503 on /readyz for this long before closing connections (0: no drain)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "after the drain, wait this long for connections and requests to finish, then cut them (syncd exits within drain + shutdown-timeout + 5s)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: syncd [flags]\n       syncd backup|restore|inspect|compact [flags] (maintenance; each has -h)\n\nEvery flag may also be set as SYNCD_<NAME> (e.g. SYNCD_JWT_SECRET).\n\nFlags:")
		fs.PrintDefaults()
	}
	hintDurations(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	envNames := map[string]string{} // flag → the variable that set it, for errors
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		name := "SYNCD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			envNames[f.Name] = name
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("invalid value %q for %s (-%s): %w", v, name, f.Name, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	return c.validate(envNames)
}

// validate checks the configuration; envNames maps the flags set from the
// environment to their variable.
func (c *Config) validate(envNames map[string]string) error {
	switch c.Store {
	case "bolt", "memory", "nats":
	default:
		return fmt.Errorf("-store: want bolt, memory or nats, got %q", c.Store)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	if err := checkRules(c.rules(), envNames); err != nil {
		return err
	}
	if err := c.validateTransport(); err != nil {
		return err
	}
	if err := c.validateWebhooks(); err != nil {
		return err
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	if _, err := c.policies(); err != nil {
		return err
	}
	if _, err := c.schemaFiles(); err != nil {
		return err
	}
	if _, err := router.ParseHostList(splitList(c.Hosts)); err != nil {
		return fmt.Errorf("-hosts: %w", err)
	}
	if _, err := router.ParseTrustedProxies(splitList(c.TrustedProxies)); err != nil {
		return fmt.Errorf("-trusted-proxies: %w", err)
	}
	if err := c.validateJWT(); err != nil {
		return err
	}
	if c.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.PprofAddr)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			return fmt.Errorf("-pprof-addr: want a loopback address such as 127.0.0.1:6060, got %q", c.PprofAddr)
		}
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("-log-format: want text or json, got %q", c.LogFormat)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("-log-level: want debug, info, warn or error, got %q", c.LogLevel)
	}
	return nil
}

// rules says what each numeric flag allows (flagcheck.go); a new flag adds
// its row here.
func (c *Config) rules() []flagRule {
	return append([]flagRule{
		atLeast("ring-size", c.RingSize, 2),
		positive("snapshot-interval", c.SnapshotInterval),
		{flag: "retention", value: c.Retention, ok: c.Retention != 0, want: "greater than 0 (or negative: keep every operation)"},
		positive("max-doc-bytes", c.MaxDocBytes),
		positive("heartbeat", c.HeartbeatInterval),
		longerThan("heartbeat-timeout", c.HeartbeatTimeout, "heartbeat", c.HeartbeatInterval),
		positive("max-message-bytes", c.MaxMessageBytes),
		positive("max-docs-per-conn", c.MaxDocsPerConn),
		positive("rate", c.MessagesPerSecond),
		positive("update-rate", c.UpdatesPerSecond),
		positive("queue-bytes", c.QueueBytes),
		atLeast("max-loaded-docs", c.MaxLoadedDocs, 1),
		atLeast("max-loaded-bytes", c.MaxLoadedBytes, 1<<20),
		positive("docs-per-minute", c.DocsPerMinute),
		positive("user-docs-per-minute", c.UserDocsPerMinute),
		between("max-doc-depth", c.MaxDocDepth, 1, maxDocDepthCeiling),
		positive("max-patch-ops", c.MaxPatchOps),
		atLeast("max-patch-work-bytes", c.MaxPatchWork, 0),
		{flag: "group-commit-wait", value: c.GroupCommitWait, ok: c.GroupCommitWait <= maxGroupCommitWait, want: fmt.Sprintf("at most %v (or 0: about one commit; negative: never wait)", maxGroupCommitWait)},
		positive("admin-session-ttl", c.AdminSessionTTL),
		positive("http-idle-timeout", c.HTTPIdleTimeout),
		positive("http-read-timeout", c.HTTPReadTimeout),
		positive("http-write-timeout", c.HTTPWriteTimeout),
		atLeast("drain", c.Drain, 0),
		positive("shutdown-timeout", c.ShutdownTimeout),
		between("nats-replicas", c.Cluster.Replicas, 0, maxReplicas),
		positive("nats-start-timeout", c.Cluster.StartTimeout),
		between("jwt-leeway", c.JWTLeeway, 0, time.Hour), // more is more clock skew than any clock has
	}, slices.Concat(c.Transport.transportRules(), c.Bus.busRules(), c.Webhooks.webhookRules(), c.Cluster.clusterRules())...)
}

// policies parses -policy.
func (c *Config) policies() (map[string]syncd.Policy, error) {
	out := map[string]syncd.Policy{}
	if strings.TrimSpace(c.Policies) == "" {
		return out, nil
	}
	for _, item := range strings.Split(c.Policies, ",") {
		prefix, name, ok := strings.Cut(strings.TrimSpace(item), "=")
		p, known := syncd.ParsePolicy(name)
		if !ok || !known {
			return nil, fmt.Errorf("-policy: %q is not prefix=rebase|lww|strict", item)
		}
		out[prefix] = p
	}
	return out, nil
}

// origins parses -origins.
func (c *Config) origins() []string { return splitList(c.Origins) }

// splitList splits a comma-separated flag value, dropping empty entries.
func splitList(v string) []string {
	var out []string
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}
