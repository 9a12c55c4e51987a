package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// Server is the sync service over HTTP: the WebSocket protocol at /ws, the
// HTTP API at /v1/, health at /healthz and /readyz, and Prometheus metrics
// at /metrics. It does not own the engine: shut the server down first, then
// close the engine.
type Server struct {
	opts   Options
	engine *syncd.Engine
	router *router.Router
	mux    *http.ServeMux
	api    *httpAPI

	shuttingDown atomic.Bool

	// owners binds client ids to users when authentication is on
	// (owners.go).
	owners *clientOwners
}

// New builds a server for engine.
func New(engine *syncd.Engine, opts Options) (*Server, error) {
	if engine == nil {
		return nil, errors.New("server: New needs an engine")
	}
	o := opts.withDefaults()
	if o.HeartbeatTimeout <= o.HeartbeatInterval {
		return nil, fmt.Errorf("server: HeartbeatTimeout %v must be longer than HeartbeatInterval %v, or every idle client is closed", o.HeartbeatTimeout, o.HeartbeatInterval)
	}
	s := &Server{opts: o, engine: engine, mux: http.NewServeMux(), owners: newClientOwners(o.OwnerGrace, nil)}
	o.Metrics.engineSampler.engine = engine

	s.router = router.New(router.Options{
		Authenticate:      s.authenticate,
		AllowedOrigins:    o.AllowedOrigins,
		MaxMessageBytes:   o.Limits.MaxMessageBytes,
		QueueBytes:        o.Limits.OutboundQueueBytes,
		MessagesPerSecond: o.Limits.MessagesPerSecond,
		Burst:             o.Limits.Burst,
		HeartbeatInterval: o.HeartbeatInterval,
		HeartbeatTimeout:  o.HeartbeatTimeout,
		OnOpen:            s.onOpen,
		OnClose:           s.onClose,
		OnError:           s.onError,
		OnQueueFull: func(c *router.Conn, f *router.Frame) router.OverflowAction {
			o.Metrics.overflows.Inc()
			return router.OverflowClose
		},
		MapError: toWire,
	})
	s.routes()

	s.api = &httpAPI{engine: engine, key: o.APIKey, backup: o.Backup, m: o.Metrics}
	s.api.register(s.mux)
	registerStatic(s.mux)
	s.mux.Handle("GET /ws", s.router)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.shuttingDown.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(o.Metrics.Registry, promhttp.HandlerOpts{Registry: o.Metrics.Registry}))
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Router returns the WebSocket router, so an embedding program can add its
// own message types and RPCs beside the sync protocol (before serving).
func (s *Server) Router() *router.Router { return s.router }

// Shutdown stops accepting connections and closes every open one with
// 1001 "going away" (clients reconnect and resume), waiting for them to
// finish until ctx ends. Edits already accepted are committed by the
// engine, which the caller closes next.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shuttingDown.Store(true)
	return s.router.Shutdown(ctx)
}

func (s *Server) onError(c *router.Conn, err error) {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Code != protocol.CodeInternal {
		return // an answered refusal: the client was told, nothing to log
	}
	var panicErr *router.PanicError
	if errors.As(err, &panicErr) {
		s.opts.Logger.Error("handler panic", "client", c.ClientID(), "err", err)
		return
	}
	s.opts.Logger.Warn("handler error", "client", c.ClientID(), "err", err)
}
