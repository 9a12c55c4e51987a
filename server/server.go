package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
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

	// shuttingDown: Drain or Shutdown was called; /readyz answers 503.
	shuttingDown atomic.Bool
	handler      http.Handler // mux, bounded (httpbounds.go), behind the Host check (hosts.go)

	// verifier checks tokens; nil when authentication is off.
	verifier *tokenVerifier

	// creators rate-limits document creation per user (doccreation.go).
	creators *userCreations

	// access is the parsed Host allow-list and trusted proxies.
	access accessPolicy
	// admin is the admin page (admin.go); nil when it is off.
	admin *admin
	// gatherer is what /metrics serves: Options.Metrics, and the
	// server's own registry of what it reads from the engine and the
	// router at scrape time.
	gatherer prometheus.Gatherers
	// cluster is this instance's side of the cluster bus (cluster.go);
	// nil without Options.Bus.
	cluster *cluster
	// cutOff holds the reason while the instance is cut off from its
	// store (cutoff.go).
	cutOff atomic.Pointer[string]
}

// New builds a server for engine. It keeps a copy of opts and changes
// nothing the caller gave it (Options.Metrics says what the server does
// with the metrics).
func New(engine *syncd.Engine, opts Options) (*Server, error) {
	if engine == nil {
		return nil, errors.New("server: New needs an engine")
	}
	o := opts.withDefaults()
	if o.HeartbeatTimeout <= o.HeartbeatInterval {
		return nil, fmt.Errorf("server: HeartbeatTimeout %v must be longer than HeartbeatInterval %v, or every idle client is closed", o.HeartbeatTimeout, o.HeartbeatInterval)
	}
	access, err := parseAccessPolicy(o)
	if err != nil {
		return nil, err
	}
	verifier, err := newTokenVerifier(o)
	if err != nil {
		return nil, err
	}
	if err := o.withBusDefaults(); err != nil {
		return nil, err
	}
	s := &Server{opts: o, engine: engine, mux: http.NewServeMux(), verifier: verifier, access: access}
	var broker router.Broker // nil: the router's own MemoryBroker
	if o.Bus != nil {
		if s.cluster, err = newCluster(s, o); err != nil {
			return nil, err
		}
		broker = s.cluster.rooms
	}
	s.creators = newUserCreations(o.Limits.UserDocsPerMinute)
	if room := engine.MaxRoomPresenceBytes(); room > o.Limits.OutboundQueueBytes/2 {
		// A joiner receives the whole room in one PRESENCE, on top of its
		// catch-up: a room that big could close joiners as slow consumers.
		o.Logger.Warn("the presence room bound is more than half the outbound queue: joiners of a full room may be closed as slow consumers",
			"maxRoomPresenceBytes", room, "outboundQueueBytes", o.Limits.OutboundQueueBytes)
	}

	s.router = router.New(router.Options{
		Authenticate:      s.authenticate,
		AllowedOrigins:    o.AllowedOrigins,
		AllowedHosts:      access.hosts,
		TrustedProxies:    access.proxies,
		MaxMessageBytes:   o.Limits.MaxMessageBytes,
		QueueBytes:        o.Limits.OutboundQueueBytes,
		MessagesPerSecond: o.Limits.MessagesPerSecond,
		Burst:             o.Limits.Burst,
		HeartbeatInterval: o.HeartbeatInterval,
		HeartbeatTimeout:  o.HeartbeatTimeout,
		OnOpen:            s.opened,
		Broker:            broker,
		OnClose:           s.onClose,
		OnError:           s.onError,

		// The transport limits (conncap.go, partial.go, roomlimits.go).
		DroppableQueueBytes: o.Limits.RoomQueueBytes,
		MessageTimeout:      o.Limits.MessageTimeout,
		WriteTimeout:        o.Limits.WriteTimeout,
		MaxPartialBytes:     o.Limits.MaxPartialBytes,
		MaxConns:            o.Limits.MaxConns,
		MaxConnsPerAddr:     o.Limits.MaxConnsPerAddr,

		OnQueueFull: func(c *router.Conn, f *router.Frame) router.OverflowAction {
			o.Metrics.overflows.Inc()
			return router.OverflowClose
		},
		MapError: toWire,
	})
	s.routes()
	own := prometheus.NewRegistry()
	own.MustRegister(&engineCollector{engine: engine}, &routerCollector{router: s.router})
	if cc := newClusterCollector(engine); cc != nil {
		own.MustRegister(cc)
	}
	s.gatherer = prometheus.Gatherers{o.Metrics.Registry, own}
	if s.cluster != nil {
		s.cluster.m.register(own)
		if err := s.cluster.start(); err != nil {
			return nil, fmt.Errorf("server: cluster bus: %w", err)
		}
	}

	s.api = &httpAPI{engine: engine, key: o.APIKey, backup: o.Backup, m: o.Metrics, writeTimeout: o.HTTPWriteTimeout,
		proxies: s.access.proxies, guesses: newAddrLimiters(apiGuessRate, apiGuessBurst)}
	s.api.register(s.mux)
	registerStatic(s.mux)
	if s.admin = newAdmin(s); s.admin != nil {
		s.admin.register(s.mux)
	}
	s.mux.Handle(wsPattern, s.refuseWhileCutOff(s.router))
	// /healthz is liveness: it answers 200 as long as the process serves,
	// draining included. /readyz is readiness: 503 from the start of the
	// drain (Drain), so that a load balancer stops sending new clients
	// before connections are told to go.
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.shuttingDown.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		if reason, cut := s.CutOffReason(); cut {
			http.Error(w, "cut off from the store: "+reason, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	// The handler's own error counter goes to the server's registry too.
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{Registry: own}))
	// The Host check comes first: a request for a name syncd does not
	// serve is refused before anything else reads it.
	s.handler = access.guardHosts(s.bounded(s.mux))
	return s, nil
}

// Gatherer returns every metric /metrics serves: Options.Metrics, and
// those the server reads from the engine and the router at scrape time,
// for an embedder that serves metrics on an endpoint of its own.
func (s *Server) Gatherer() prometheus.Gatherer { return s.gatherer }

// Handler returns the server's HTTP handler: every route, behind the Host
// check (Options.AllowedHosts) and the request bounds (httpbounds.go).
func (s *Server) Handler() http.Handler { return s.handler }

// Drain starts the drain before a shutdown: /readyz answers 503 from now
// on, while everything else (/healthz, the API, WebSockets, new
// connections) keeps serving, so that a load balancer polling /readyz takes
// the server out of rotation before Shutdown closes its connections. The
// caller waits the drain period, then calls Shutdown.
func (s *Server) Drain() { s.shuttingDown.Store(true) }

// Router returns the WebSocket router, so an embedding program can add its
// own message types and RPCs beside the sync protocol (before serving).
func (s *Server) Router() *router.Router { return s.router }

// Shutdown stops accepting connections and closes every open one with
// 1001 "going away" (clients reconnect and resume), waiting for them to
// finish until ctx ends. Edits already accepted are committed by the
// engine, which the caller closes next.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shuttingDown.Store(true)
	if s.admin != nil {
		s.admin.close()
	}
	// The other instances of a cluster drop this one's clients at once.
	s.cluster.goodbye()
	err := s.router.Shutdown(ctx)
	if s.cluster != nil {
		s.cluster.close()
		s.cluster.rooms.Close()
	}
	return err
}

// opened is the router's OnOpen: the greeting, then, in a cluster, the
// connection's claim on its client id.
func (s *Server) opened(c *router.Conn) {
	s.onOpen(c)
	if reason, cut := s.CutOffReason(); cut {
		// Past refuseWhileCutOff before CutOff, registered after CutOff
		// closed the live connections: close it as CutOff would have.
		// (CutOff sets the flag before it lists the connections, and a
		// connection is registered before its OnOpen, so each is closed
		// by one or the other.)
		c.Close(protocol.CloseTryAgainLater, "server cut off from its store: "+reason)
		return
	}
	s.cluster.opened(c)
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
