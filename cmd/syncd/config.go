package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"

	"strings"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
)

// Config is everything the flags set.
type Config struct {
	Addr             string
	DataDir          string
	Store            string // "bolt" or "memory"
	RingSize         int
	SnapshotInterval int
	Retention        int
	MaxDocBytes      int
	Policies         string // "prefix=policy,prefix=policy"

	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration
	MaxMessageBytes   int64
	MaxDocsPerConn    int
	MessagesPerSecond float64
	UpdatesPerSecond  float64
	QueueBytes        int

	Origins   string
	APIKey    string
	JWTSecret string
	TLSCert   string
	TLSKey    string
	LogFormat string
	LogLevel  string
	PprofAddr string
}

var errHelp = errors.New("help requested")

// ParseFlags fills the configuration from args and, for flags not on the
// command line, from the environment (SYNCD_<NAME>).
func (m *Main) ParseFlags(args []string, getenv func(string) string) error {
	c := &m.Config
	fs := flag.NewFlagSet("syncd", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "address to listen on (loopback by default; use :8080 for every interface)")
	fs.StringVar(&c.DataDir, "data", "./data", "directory of the bbolt database (syncd.db)")
	fs.StringVar(&c.Store, "store", "bolt", "store: bolt (durable) or memory (lost on exit; for tests and demos)")
	fs.IntVar(&c.RingSize, "ring-size", 1024, "recent operations kept in memory per document, for catch-up and rebase")
	fs.IntVar(&c.SnapshotInterval, "snapshot-interval", 1000, "operations between stored snapshots of a document")
	fs.IntVar(&c.Retention, "retention", 100000, "operations kept in each document's log (older ones are served as a snapshot)")
	fs.IntVar(&c.MaxDocBytes, "max-doc-bytes", 1<<20, "largest document, encoded, in bytes")
	fs.StringVar(&c.Policies, "policy", "", `conflict policy by document-id prefix, e.g. "scores/=lww,ledger/=strict" (default rebase)`)
	fs.DurationVar(&c.HeartbeatInterval, "heartbeat", server.DefaultHeartbeatInterval, "interval between liveness checks of each connection (a silent one is pinged)")
	fs.DurationVar(&c.HeartbeatTimeout, "heartbeat-timeout", server.DefaultHeartbeatTimeout, "close a connection silent for this long (more than -heartbeat)")
	fs.Int64Var(&c.MaxMessageBytes, "max-message-bytes", 1<<20, "largest inbound message")
	fs.IntVar(&c.MaxDocsPerConn, "max-docs-per-conn", 100, "documents one connection may join at once")
	fs.Float64Var(&c.MessagesPerSecond, "rate", 200, "messages per second per connection (flood guard; burst twice that)")
	fs.Float64Var(&c.UpdatesPerSecond, "update-rate", 100, "UPDATEs per second per connection (burst twice that)")
	fs.IntVar(&c.QueueBytes, "queue-bytes", 8<<20, "outbound bytes that may wait for one connection before it is closed as a slow consumer")
	fs.StringVar(&c.Origins, "origins", "", `comma-separated Origins browsers may connect from ("*" for any; default same-origin only)`)
	fs.StringVar(&c.APIKey, "api-key", "", "key for the HTTP API (/v1/...); empty turns the API off")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "", "HS256 secret; when set, every connection needs a JWT")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file (serve wss:// and https://)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS key file")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "serve Go's profiler (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060; empty: off")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: syncd [flags]\n\nEvery flag may also be set as SYNCD_<NAME> (e.g. SYNCD_JWT_SECRET).\n\nFlags:")
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
	case "bolt", "memory":
	default:
		return fmt.Errorf("-store: want bolt or memory, got %q", c.Store)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	if err := checkRules(c.rules(), envNames); err != nil {
		return err
	}
	if _, err := c.policies(); err != nil {
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
	return []flagRule{
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
	}
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
func (c *Config) origins() []string {
	var out []string
	for _, o := range strings.Split(c.Origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}
