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
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/boltstore"
	"github.com/deltasync/syncd/store/memstore"
)

// Main is the syncd program: configuration, the parts it wires together,
// and their life cycle. Tests boot the whole program with it on
// 127.0.0.1:0.
type Main struct {
	Config Config
	Stdout io.Writer
	Stderr io.Writer
	Logger *slog.Logger

	store  syncd.Store
	engine *syncd.Engine
	server *server.Server
	http   *http.Server
	ln     net.Listener
	served chan error
	pprof  *http.Server
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
	m.pprof = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
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

	var backup func(context.Context, io.Writer) (int64, error)
	switch c.Store {
	case "memory":
		m.store = memstore.New(memstore.Options{Retention: c.Retention})
	default:
		if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
			return fmt.Errorf("-data: %w", err) // names the directory
		}
		path := filepath.Join(c.DataDir, "syncd.db")
		bs, err := boltstore.Open(path, boltstore.Options{Retention: c.Retention})
		if errors.Is(err, boltstore.ErrLocked) {
			return fmt.Errorf("the data directory %s is in use by another syncd (%s is locked): stop that one, or give this one another -data", c.DataDir, path)
		}
		if err != nil {
			return err // names the file
		}
		m.store, backup = bs, bs.Backup
	}

	metrics := server.NewMetrics()
	policies, _ := c.policies()
	m.engine, err = syncd.Open(m.store, syncd.Options{
		RingSize:         c.RingSize,
		SnapshotInterval: c.SnapshotInterval,
		MaxDocSize:       c.MaxDocBytes,
		Policies:         policies,
		Logger:           m.Logger,
		ObserveCommit:    metrics.ObserveStoreCommit,
	})
	if err != nil {
		return err
	}
	m.server, err = server.New(m.engine, server.Options{
		Logger:            m.Logger,
		Metrics:           metrics,
		APIKey:            c.APIKey,
		JWTSecret:         []byte(c.JWTSecret),
		AllowedOrigins:    c.origins(),
		HeartbeatInterval: c.HeartbeatInterval,
		HeartbeatTimeout:  c.HeartbeatTimeout,
		Backup:            backup,
		Limits: server.Limits{
			MaxMessageBytes:    c.MaxMessageBytes,
			MaxDocsPerConn:     c.MaxDocsPerConn,
			MessagesPerSecond:  c.MessagesPerSecond,
			Burst:              int(2 * c.MessagesPerSecond),
			UpdatesPerSecond:   c.UpdatesPerSecond,
			UpdateBurst:        int(2 * c.UpdatesPerSecond),
			OutboundQueueBytes: c.QueueBytes,
		},
	})
	if err != nil {
		return err
	}

	m.ln, err = net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	m.http = &http.Server{
		Handler:           m.server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
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
	m.served = make(chan error, 1)
	go func() { m.served <- m.http.Serve(m.ln) }()
	attrs := []any{"url", scheme + "://" + m.ln.Addr().String(), "ws", m.wsURL(scheme), "store", c.Store}
	if c.Store == "bolt" {
		attrs = append(attrs, "data", c.DataDir) // -data means nothing to -store memory
	}
	attrs = append(attrs, "auth", c.JWTSecret != "", "api", c.APIKey != "")
	m.Logger.Info("syncd is serving", attrs...)
	return nil
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

// Close shuts down in reverse order of creation: stop accepting and close
// every connection with "going away, reconnect"; stop the engine, which
// commits what is queued; close the store, which flushes it.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Only a syncd that served says it stopped: after a failed start the
	// error is the news, and "syncd stopped" would read as a clean exit.
	served := m.served != nil
	var errs []error
	if m.server != nil {
		errs = append(errs, m.server.Shutdown(ctx))
	}
	if m.pprof != nil {
		m.pprof.Close()
		m.pprof = nil
	}
	if m.http != nil {
		errs = append(errs, m.http.Shutdown(ctx))
		if m.served != nil {
			if err := <-m.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
		} else if m.ln != nil {
			m.ln.Close() // Run failed between Listen and Serve
		}
		m.http = nil
	}
	if m.engine != nil {
		errs = append(errs, m.engine.Close())
		m.engine = nil
	}
	if m.store != nil {
		errs = append(errs, m.store.Close())
		m.store = nil
	}
	if m.Logger != nil && served {
		m.Logger.Info("syncd stopped")
	}
	return errors.Join(errs...)
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
