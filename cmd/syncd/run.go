package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/router"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/boltstore"
	"github.com/deltasync/syncd/store/memstore"
	"github.com/deltasync/syncd/webhook"
	"github.com/nats-io/nats.go"
)

// Main is the syncd program: configuration, the parts it wires together,
// and their life cycle. Tests boot the whole program with it on
// 127.0.0.1:0.
type Main struct {
	Config Config
	Stdout io.Writer
	Stderr io.Writer
	Logger *slog.Logger

	store    syncd.Store
	webhooks *webhook.Notifier
	engine   *syncd.Engine
	server   *server.Server
	http     *http.Server
	ln       net.Listener
	served   chan error
	pprof    *http.Server
	// pprofAddr is the profiler's address once it serves.
	pprofAddr string

	// stopped is closed when the last Close's shutdown has finished, which
	// may be after Close gave up waiting for it (tests wait on it).
	stopped chan struct{}

	// nats is what -store nats runs besides the store (run_nats.go).
	nats natsParts
	// natsWatch probes NATS with -store nats (nats_watch.go).
	natsWatch *natsWatch
	// natsStoreOpener replaces openNATSStore (store_nats.go) in tests.
	natsStoreOpener func(ctx context.Context, nc *nats.Conn, prefix string, replicas, maxDocBytes int) (syncd.Store, error)
}

// servePprof serves the profiler on its own loopback listener, never on the
// public one: profiles expose the program's internals.
func (m *Main) servePprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// The listener is loopback, so the default Host check admits only the
	// loopback names: a DNS-rebinding page must not read the profiles
	// (nor /debug/pprof/cmdline, which holds the flags, secrets included).
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !router.AllowedHost(r, router.HostList{}, nil) {
			router.RefuseHost(w, r, nil)
			return
		}
		mux.ServeHTTP(w, r)
	})
	m.pprof = &http.Server{Handler: guarded, ReadHeaderTimeout: 10 * time.Second}
	m.pprofAddr = ln.Addr().String()
	go m.pprof.Serve(ln)
	m.Logger.Info("profiler is serving", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}

// NewMain returns a Main with the defaults of every flag.
func NewMain() *Main {
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr}
	m.ParseFlags(nil, func(string) string { return "" })
	return m
}

// Run opens the store, starts the engine and the server, and starts
// listening. It returns once syncd is serving (or failed to start); Close
// stops it.
func (m *Main) Run(ctx context.Context) (err error) {
	c := &m.Config
	m.Logger = m.newLogger()
	defer func() {
		if err != nil {
			m.Close()
		}
	}()

	backup, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	metrics := server.NewMetrics()
	if c.Store == "nats" {
		metrics.WatchNATS(m.natsState)
	}
	m.registerNATSMetrics(metrics.Registry)
	observer, err := m.startWebhooks(ctx, metrics)
	if err != nil {
		return err
	}
	// A cluster's instances forward a contended document's edits to one
	// of them (config_bus.go); the server carries them, once it runs.
	var forwarder *server.Forwarder
	if c.Store == "nats" && c.Bus.Forward {
		forwarder = server.NewForwarder()
	}
	opts, err := m.engineOptions(metrics, observer, forwarder)
	if err != nil {
		return err
	}
	if m.engine, err = syncd.Open(m.store, opts); err != nil {
		return err
	}
	if c.Store == "nats" {
		// No file to copy: the log is JetStream's (backup_export.go).
		backup = (&exporter{engine: m.engine, dir: c.DataDir}).backup
	}
	serverOpts, err := m.serverOptions(metrics, backup, forwarder)
	if err != nil {
		return err
	}
	if m.server, err = server.New(m.engine, serverOpts); err != nil {
		return err
	}
	if c.Store == "nats" {
		m.startNATSWatch()
	}
	return m.listen()
}

// openStore opens the store -store names, and returns how the HTTP backup
// copies it (nil where the store has no file of its own).
func (m *Main) openStore(ctx context.Context) (backup func(context.Context, io.Writer) (int64, error), err error) {
	c := &m.Config
	switch c.Store {
	case "memory":
		m.store = memstore.New(memstore.Options{Retention: c.Retention})
		return nil, nil
	case "nats":
		m.store, err = m.openNATS(ctx)
		return nil, err
	}
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("-data: %w", err) // names the directory
	}
	path := filepath.Join(c.DataDir, "syncd.db")
	bs, err := boltstore.Open(path, boltstore.Options{Retention: c.Retention})
	if errors.Is(err, boltstore.ErrLocked) {
		return nil, fmt.Errorf("the data directory %s is in use by another syncd (%s is locked): stop that one, or give this one another -data", c.DataDir, path)
	}
	if err != nil {
		return nil, err // names the file
	}
	m.store = bs
	return bs.Backup, nil
}

// engineOptions are the engine's options from the configuration.
func (m *Main) engineOptions(metrics *server.Metrics, observer syncd.Observer, forwarder *server.Forwarder) (syncd.Options, error) {
	c := &m.Config
	policies, _ := c.policies()
	validate, err := c.loadSchemas()
	if err != nil {
		return syncd.Options{}, err
	}
	opts := syncd.Options{
		RingSize:         c.RingSize,
		SnapshotInterval: c.SnapshotInterval,
		MaxDocSize:       c.MaxDocBytes,
		MaxLoadedDocs:    c.MaxLoadedDocs,
		MaxLoadedBytes:   c.MaxLoadedBytes,
		MaxDocDepth:      c.MaxDocDepth,
		MaxPatchOps:      c.MaxPatchOps,
		MaxPatchWork:     c.MaxPatchWork,
		GroupCommitWait:  c.GroupCommitWait,
		Policies:         policies,
		Validate:         validate,
		Logger:           m.Logger,
		ObserveCommit:    metrics.ObserveStoreCommit,
		Observer:         observer,

		MaxRoomPresenceBytes: c.Transport.MaxRoomPresenceBytes,

		ForwardHold: c.Bus.ForwardHold,
	}
	if forwarder != nil {
		// Not a typed nil: the engine tells "no forwarding" by a nil interface.
		opts.Forwarder = forwarder
	}
	return opts, nil
}

// serverOptions are the server's options from the configuration.
func (m *Main) serverOptions(metrics *server.Metrics, backup func(context.Context, io.Writer) (int64, error), forwarder *server.Forwarder) (server.Options, error) {
	c := &m.Config
	jwtKeys, err := c.jwtKeys()
	if err != nil {
		return server.Options{}, err
	}
	bus, err := m.clusterBus()
	if err != nil {
		return server.Options{}, err
	}
	return server.Options{
		Logger:            m.Logger,
		Metrics:           metrics,
		APIKey:            c.APIKey,
		AdminKey:          c.AdminKey,
		AdminSessionTTL:   c.AdminSessionTTL,
		AdminStore:        c.storeDescription(m.nodeName()),
		JWTSecret:         []byte(c.JWTSecret),
		JWTKeys:           jwtKeys,
		JWTAudience:       c.JWTAudience,
		JWTIssuer:         c.JWTIssuer,
		JWTLeeway:         c.jwtLeeway(),
		AllowedOrigins:    c.origins(),
		AllowedHosts:      splitList(c.Hosts),
		TrustedProxies:    splitList(c.TrustedProxies),
		HeartbeatInterval: c.HeartbeatInterval,
		HeartbeatTimeout:  c.HeartbeatTimeout,
		HTTPReadTimeout:   c.HTTPReadTimeout,
		HTTPWriteTimeout:  c.HTTPWriteTimeout,
		Backup:            backup,
		// The cluster bus (-store nats) and its timing (config_bus.go).
		Bus:                  bus,
		BusHeartbeatInterval: c.Bus.HeartbeatInterval,
		BusPeerTimeout:       c.Bus.PeerTimeout,
		BusRoomWait:          c.Bus.RoomWait,
		Forwarder:            forwarder,
		BusForwardTimeout:    c.Bus.ForwardTimeout,
		Limits: server.Limits{
			MaxMessageBytes:    c.MaxMessageBytes,
			MaxDocsPerConn:     c.MaxDocsPerConn,
			MessagesPerSecond:  c.MessagesPerSecond,
			UpdatesPerSecond:   c.UpdatesPerSecond,
			OutboundQueueBytes: c.QueueBytes,
			DocsPerMinute:      c.DocsPerMinute,
			UserDocsPerMinute:  c.UserDocsPerMinute,

			RoomQueueBytes:         c.Transport.RoomQueueBytes,
			MaxPresenceBytes:       c.Transport.MaxPresenceBytes,
			PresenceBytesPerSecond: c.Transport.PresenceBytesPerSecond,
			MaxPublishBytes:        c.Transport.MaxPublishBytes,
			MessageTimeout:         c.Transport.MessageTimeout,
			WriteTimeout:           c.Transport.WriteTimeout,
			MaxPartialBytes:        c.Transport.MaxPartialBytes,
			MaxConns:               c.Transport.MaxConns,
			MaxConnsPerAddr:        c.Transport.MaxConnsPerAddr,
		},
	}, nil
}

// listen starts serving HTTP (and TLS, with -tls-cert) on -addr, and the
// profiler on -pprof-addr.
func (m *Main) listen() (err error) {
	c := &m.Config
	m.ln, err = net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	// No ReadTimeout or WriteTimeout here: they would cut the WebSocket
	// connections too. The server bounds each other request itself
	// (server/httpbounds.go).
	m.http = &http.Server{
		Handler:           m.readiness(m.server.Handler()),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       c.HTTPIdleTimeout,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		m.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		m.ln = tls.NewListener(m.ln, m.http.TLSConfig)
		scheme = "https"
	}
	if c.PprofAddr != "" {
		if err := m.servePprof(c.PprofAddr); err != nil {
			return err
		}
	}
	m.warnOpenHosts()
	m.served = make(chan error, 1)
	go func() { m.served <- m.http.Serve(m.ln) }()
	attrs := []any{"url", scheme + "://" + m.ln.Addr().String(), "ws", m.wsURL(scheme), "store", c.Store}
	switch c.Store {
	case "bolt":
		attrs = append(attrs, "data", c.DataDir) // -data means nothing to -store memory
	case "nats":
		attrs = append(attrs, m.natsLogAttrs()...)
	}
	attrs = append(attrs, "auth", c.jwtOn(), "api", c.APIKey != "", "admin", c.AdminKey != "" || c.APIKey != "")
	m.Logger.Info("syncd is serving", attrs...)
	return nil
}

// warnOpenHosts says at start when the default Host check leaves browsers
// exposed to DNS rebinding, or will refuse the requests of a proxy.
func (m *Main) warnOpenHosts() {
	if m.Config.Hosts != "" {
		return
	}
	if tcp, ok := m.ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		m.Logger.Warn("-hosts is not set and syncd listens beyond loopback: requests that reach it on a non-loopback address may name any host, so a DNS-rebinding page can use it; list the server's names in -hosts",
			"addr", m.ln.Addr().String())
	}
	if m.Config.TrustedProxies != "" {
		m.Logger.Warn("-trusted-proxies is set without -hosts: a proxy that connects over loopback may forward only localhost, 127.0.0.1 or [::1] as the host; list the public names in -hosts")
	}
}

func (m *Main) wsURL(scheme string) string {
	if scheme == "https" {
		return "wss://" + m.ln.Addr().String() + "/ws"
	}
	return "ws://" + m.ln.Addr().String() + "/ws"
}

// Addr is the address syncd listens on (useful with -addr 127.0.0.1:0).
func (m *Main) Addr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

func (m *Main) newLogger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(m.Config.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if m.Config.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(m.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(m.Stderr, opts))
}
