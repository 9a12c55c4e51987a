package natsnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ExternalOptions configure a connection to NATS servers syncd does not run
// ([Connect]). At most one way to authenticate: Creds, User and Password,
// or Token (or credentials in the URLs).
type ExternalOptions struct {
	// URLs of the NATS servers, e.g. "nats://nats1:4222"; the client also
	// learns the others of their cluster. Required.
	URLs []string
	// Creds is a credentials file (a user JWT and its NKey seed).
	Creds string
	// User and Password authenticate with a user name and password.
	User, Password string
	// Token authenticates with a token.
	Token string
	// TLSCA is a PEM file of the CA that signs the servers' certificates,
	// for tls:// URLs signed by a private CA.
	TLSCA string
	// Name is the connection's name, shown in the servers' monitoring.
	// Default "syncd".
	Name string

	// MaxDocBytes is the largest document syncd stores: Connect refuses
	// servers whose max_payload is below MaxMessageBytes(MaxDocBytes).
	// Default DefaultMaxDocBytes.
	MaxDocBytes int

	// Logger receives the connection's logs. Default slog.Default().
	Logger *slog.Logger
}

// MinServerVersion is the oldest NATS server Connect accepts. syncd's store
// relies on conditional appends per subject being serialised on clustered
// streams: before 2.10.19 an append expecting "no message yet" could be
// stored by some replicas and refused by others (nats-server #5794), and
// from 2.11.0 the stream leader refuses a conditional append on a subject
// while another one on it is in flight, and accepts the
// Nats-Expected-Last-Subject-Sequence-Subject header.
const MinServerVersion = "2.11.0"

// connectRetryWait bounds the pause between attempts to reach servers that
// are not up yet.
const connectRetryWait = 2 * time.Second

// Connect connects to external NATS servers, retrying until ctx ends while
// none can be reached (syncd may start before NATS), but failing at once
// on refused credentials. Once connected, it checks that the server can
// hold what syncd writes: version at least MinServerVersion, headers,
// JetStream enabled for the account, max_payload large enough. The
// connection then reconnects by itself whenever it is lost.
func Connect(ctx context.Context, o ExternalOptions) (*nats.Conn, error) {
	if o.Name == "" {
		o.Name = "syncd"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxDocBytes <= 0 {
		o.MaxDocBytes = DefaultMaxDocBytes
	}
	opts, err := o.natsOptions()
	if err != nil {
		return nil, err
	}
	servers := strings.Join(o.URLs, ",")
	wait := 100 * time.Millisecond
	var nc *nats.Conn
	for {
		nc, err = nats.Connect(servers, opts...)
		if err == nil {
			break
		}
		if isAuthError(err) {
			return nil, fmt.Errorf("natsnode: the NATS server at %s refused syncd's credentials: %w", redactURLs(o.URLs), err)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("natsnode: could not reach NATS at %s: %w (gave up: %w)", redactURLs(o.URLs), err, context.Cause(ctx))
		case <-timer.C:
		}
		wait = min(2*wait, connectRetryWait)
	}
	if err := checkServer(ctx, nc, MaxMessageBytes(o.MaxDocBytes), o.MaxDocBytes); err != nil {
		nc.Close()
		return nil, err
	}
	o.Logger.Info("connected to NATS", "server", nc.ConnectedUrlRedacted(), "server_name", nc.ConnectedServerName(),
		"version", nc.ConnectedServerVersion(), "cluster", nc.ConnectedClusterName(), "max_payload", nc.MaxPayload())
	return nc, nil
}

// natsOptions checks o and turns it into the client's options.
func (o *ExternalOptions) natsOptions() ([]nats.Option, error) {
	if len(o.URLs) == 0 {
		return nil, errors.New("natsnode: no NATS server URL given")
	}
	for _, u := range o.URLs {
		if _, err := url.Parse(u); err != nil || strings.TrimSpace(u) == "" {
			return nil, fmt.Errorf("natsnode: NATS URL %q: want e.g. nats://host:4222 or tls://host:4222", u)
		}
	}
	ways := 0
	for _, set := range []bool{o.Creds != "", o.User != "" || o.Password != "", o.Token != ""} {
		if set {
			ways++
		}
	}
	if ways > 1 {
		return nil, errors.New("natsnode: give one way to authenticate to NATS: a credentials file, a user and password, or a token")
	}
	if (o.User == "") != (o.Password == "") {
		return nil, errors.New("natsnode: a NATS user and password go together")
	}
	opts := connOptions(o.Logger, o.Name)
	switch {
	case o.Creds != "":
		opts = append(opts, nats.UserCredentials(o.Creds))
	case o.User != "":
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	case o.Token != "":
		opts = append(opts, nats.Token(o.Token))
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	return opts, nil
}

// isAuthError reports whether err is the server refusing the credentials,
// which retrying will not change.
func isAuthError(err error) bool {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "authorization violation") || strings.Contains(msg, "authentication")
}

// checkServer checks what syncd needs of the server nc is connected to.
// (In a cluster of mixed versions, only this server is checked: the
// operator upgrades them all.)
func checkServer(ctx context.Context, nc *nats.Conn, needPayload, maxDocBytes int) error {
	version := nc.ConnectedServerVersion()
	if !versionAtLeast(version, MinServerVersion) {
		return fmt.Errorf("natsnode: the NATS server %s runs version %q; syncd needs %s or newer (conditional appends per subject are not safe on clustered streams before it)",
			nc.ConnectedUrlRedacted(), version, MinServerVersion)
	}
	if !nc.HeadersSupported() {
		return fmt.Errorf("natsnode: the NATS server %s does not support message headers, which syncd's records need", nc.ConnectedUrlRedacted())
	}
	if got := nc.MaxPayload(); got < int64(needPayload) {
		return fmt.Errorf("natsnode: the NATS server %s accepts messages up to %d bytes (max_payload); syncd writes up to %d (a document of %d bytes plus %d for headers and the record): set max_payload to at least %d on every server, or lower the largest document",
			nc.ConnectedUrlRedacted(), got, needPayload, maxDocBytes, RecordOverhead, needPayload)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("natsnode: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		switch {
		case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
			return fmt.Errorf("natsnode: JetStream is not enabled on the NATS server %s for syncd's account; syncd stores documents in JetStream: %w", nc.ConnectedUrlRedacted(), err)
		default:
			return fmt.Errorf("natsnode: asking the NATS server %s about JetStream: %w", nc.ConnectedUrlRedacted(), err)
		}
	}
	return nil
}

// versionAtLeast reports whether version (e.g. "2.11.3" or "2.12.0-beta")
// is min or newer, comparing major, minor and patch. A pre-release of min
// counts as min. An unparsable version is not at least anything.
func versionAtLeast(version, min string) bool {
	parse := func(v string) (out [3]int, ok bool) {
		v = strings.TrimPrefix(v, "v")
		if i := strings.IndexAny(v, "-+"); i >= 0 {
			v = v[:i]
		}
		parts := strings.Split(v, ".")
		if len(parts) != 3 {
			return out, false
		}
		for i, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 {
				return out, false
			}
			out[i] = n
		}
		return out, true
	}
	v, ok := parse(version)
	m, mok := parse(min)
	if !ok || !mok {
		return false
	}
	for i := range v {
		if v[i] != m[i] {
			return v[i] > m[i]
		}
	}
	return true
}

// redactURLs lists urls with any credentials in them hidden, for errors.
func redactURLs(urls []string) string {
	out := make([]string, len(urls))
	for i, u := range urls {
		if p, err := url.Parse(u); err == nil && p.User != nil {
			p.User = url.User("REDACTED") // a user name may be a token
			out[i] = p.String()
		} else {
			out[i] = u
		}
	}
	return strings.Join(out, ",")
}
