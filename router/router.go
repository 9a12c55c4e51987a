package router

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
)

// Router accepts WebSocket connections (it is an http.Handler) and
// dispatches their messages to handlers by type. Register handlers and
// middleware first; the first request freezes the routes, and registering
// after that panics. Call Shutdown to close every connection and stop
// every goroutine the router started.
type Router struct {
	opts      Options
	upgrader  websocket.Upgrader
	broker    Broker
	ownBroker bool
	readers   *readerPool // the connections' read buffers (see readbuf.go)
	counter   connCounter // the connection caps (see conncap.go)
	// partial counts the bytes held for messages received in part, across
	// every connection (see partial.go).
	partial atomic.Int64
	dropped atomic.Uint64 // droppable frames dropped (see enqueue)
	start   time.Time     // the flood guards' clock (see admit)

	setupMu sync.Mutex
	frozen  bool
	routes  map[string]*route // read-only once frozen
	global  []Middleware

	mu       sync.Mutex // guards conns, shutdown, hbStop
	conns    map[string]*Conn
	shutdown bool
	hbStop   chan struct{} // non-nil while the heartbeat goroutine runs
	// wg counts the goroutines the router owns: the connections' readers
	// (each of which owns its connection's writer), those waiting for a
	// connection's input, and the heartbeat goroutine.
	wg sync.WaitGroup

	// Readers between connections (see nextInput): work hands one a
	// connection whose input has arrived; idleReaders counts those
	// waiting; quit, closed by Shutdown, sends them away.
	work        chan *Conn
	idleReaders atomic.Int32
	quit        chan struct{}
}

type route struct {
	typ     string
	h       HandlerFunc
	mw      []Middleware
	handler HandlerFunc // h wrapped in the route's and the global middleware
}

// New returns a router with opts (zero fields take their defaults).
func New(opts Options) *Router {
	opts = opts.withDefaults()
	r := &Router{
		opts:   opts,
		routes: make(map[string]*route),
		conns:  make(map[string]*Conn),
		broker: opts.Broker,
		work:   make(chan *Conn),
		quit:   make(chan struct{}),
		start:  time.Now(),
	}
	if opts.ReadBufferSize > minOwnReadBuffer {
		r.readers = newReaderPool(opts.ReadBufferSize)
	}
	if r.broker == nil {
		r.broker = NewMemoryBroker()
		r.ownBroker = true
	}
	r.upgrader = websocket.Upgrader{
		HandshakeTimeout: opts.HandshakeTimeout,
		// The router writes frames itself (see wireConn), so gorilla's
		// write buffer is never used; a pool keeps gorilla from
		// allocating one per connection.
		WriteBufferPool: unusedPool{},
		CheckOrigin:     r.checkOrigin,
		// Errors are written by ServeHTTP's checks before the upgrade;
		// gorilla's remaining ones (bad handshakes) keep their default.
	}
	if opts.ReadBufferSize <= minOwnReadBuffer {
		// Too small for gorilla to read through the hijacker's buffer
		// (zero makes it do so): gorilla makes one of this size.
		r.upgrader.ReadBufferSize = opts.ReadBufferSize
	}
	return r
}

// unusedPool satisfies websocket.BufferPool.
type unusedPool struct{}

func (unusedPool) Get() any  { return nil }
func (unusedPool) Put(x any) {}

// Use adds global middleware, wrapping every route.
func (r *Router) Use(mw ...Middleware) {
	r.setupMu.Lock()
	defer r.setupMu.Unlock()
	r.mustNotBeFrozen()
	r.global = append(r.global, mw...)
}

// HandleFunc registers h for messages of type typ, with per-route
// middleware. It panics if typ is empty, reserved (starts with "__" or
// "$"), already registered, or if the router is serving already.
func (r *Router) HandleFunc(typ string, h HandlerFunc, mw ...Middleware) {
	r.setupMu.Lock()
	defer r.setupMu.Unlock()
	r.mustNotBeFrozen()
	switch {
	case typ == "":
		panic("router: empty message type")
	case protocol.IsReservedType(typ):
		panic(fmt.Sprintf("router: message type %q is reserved", typ))
	case r.routes[typ] != nil:
		panic(fmt.Sprintf("router: message type %q registered twice", typ))
	}
	r.routes[typ] = &route{typ: typ, h: h, mw: mw}
}

// Handle registers a typed handler for messages of type typ: the payload
// is decoded strictly into a P (see [protocol.DecodePayload]: unknown
// fields, wrong types and missing required fields are INVALID_ARGUMENT
// naming the field), then validated if *P or P has a Validate() error
// method (an error that is not a *protocol.Error becomes
// INVALID_ARGUMENT), then h is called. Middleware runs before decoding.
func Handle[P any](r *Router, typ string, h func(*Ctx, P) error, mw ...Middleware) {
	r.HandleFunc(typ, func(x *Ctx) error {
		var p P
		if err := Decode(x.payload, &p); err != nil {
			return err
		}
		return h(x, p)
	}, mw...)
}

// Decode decodes a message's payload into p and validates it (when P or
// *P is a [protocol.Validator]), as Handle does before calling its
// handler: a handler registered with HandleFunc that wants to see what it
// can of a payload that fails (say, to name it in the refusal) decodes
// with it. Errors are *protocol.Error, INVALID_ARGUMENT.
func Decode[P any](raw []byte, p *P) error {
	if err := protocol.DecodePayload(raw, p); err != nil {
		return err
	}
	v, ok := any(p).(protocol.Validator)
	if !ok {
		v, ok = any(*p).(protocol.Validator)
	}
	if !ok {
		return nil
	}
	err := v.Validate()
	var pe *protocol.Error
	if err == nil || errors.As(err, &pe) {
		return err
	}
	return &protocol.Error{Code: protocol.CodeInvalidArgument, Message: err.Error(), Cause: err}
}

func (r *Router) mustNotBeFrozen() {
	if r.frozen {
		panic("router: routes and middleware must be registered before the router serves")
	}
}

// freeze composes every route's chain, once.
func (r *Router) freeze() {
	r.setupMu.Lock()
	defer r.setupMu.Unlock()
	if r.frozen {
		return
	}
	r.frozen = true
	for _, rt := range r.routes {
		rt.handler = chain(chain(rt.h, rt.mw), r.global)
	}
}

// Broker returns the router's broker.
func (r *Router) Broker() Broker { return r.broker }

// Conn returns the live connection of a client id.
func (r *Router) Conn(clientID string) (*Conn, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.conns[clientID]
	return c, ok
}

// Conns returns the live connections.
func (r *Router) Conns() []*Conn { return r.snapshot(nil) }

// Len returns the number of live connections.
func (r *Router) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

// register makes c the live connection of its client id and returns the
// connection it replaces, if any. It fails with ErrClosed once the router
// is shut down, and with errStaleAttempt if the live connection of the
// client id came from a newer attempt (attempt.go).
func (r *Router) register(c *Conn) (old *Conn, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shutdown {
		return nil, ErrClosed
	}
	old = r.conns[c.id]
	if old != nil && !supersedes(c.attempt, old.attempt) {
		return nil, errStaleAttempt
	}
	r.conns[c.id] = c
	if r.hbStop == nil && r.opts.HeartbeatInterval > 0 {
		r.hbStop = make(chan struct{})
		r.wg.Add(1)
		go r.heartbeatLoop(r.hbStop)
	}
	return old, nil
}

func (r *Router) unregister(c *Conn) {
	r.mu.Lock()
	if r.conns[c.id] == c {
		delete(r.conns, c.id)
	}
	r.mu.Unlock()
}

// snapshot appends the live connections to dst.
func (r *Router) snapshot(dst []*Conn) []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		dst = append(dst, c)
	}
	return dst
}

// Shutdown stops accepting connections, closes every connection with
// 1001 ("going away, reconnect"), and waits until every goroutine of the
// router has exited and every OnClose has run. If ctx ends first, it
// drops the remaining connections without ceremony, still waits for the
// goroutines (which then exit promptly), and returns ctx's error. A
// router-owned broker is closed. Handlers still running delay the end.
func (r *Router) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	already := r.shutdown
	r.shutdown = true
	if !already {
		close(r.quit)
	}
	if r.hbStop != nil {
		close(r.hbStop)
		r.hbStop = nil
	}
	r.mu.Unlock()
	if !already {
		for _, c := range r.snapshot(nil) {
			c.Close(protocol.CloseGoingAway, "going away, reconnect")
		}
	}

	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		for _, c := range r.snapshot(nil) {
			c.abort()
		}
		<-done
	}
	if r.ownBroker && !already {
		r.broker.Close()
	}
	return err
}

// mapError applies Options.MapError, never returning nil.
func (r *Router) mapError(err error) *protocol.Error {
	if err == nil {
		err = errors.New("router: Ctx.Error(nil)")
	}
	if e := r.opts.MapError(err); e != nil {
		return e
	}
	return protocol.AsError(err)
}

// safeHook runs a hook, turning a panic into an OnError report.
func (r *Router) safeHook(c *Conn, hook func()) {
	defer func() {
		if v := recover(); v != nil {
			r.reportError(c, &PanicError{Value: v, Stack: debug.Stack()})
		}
	}()
	hook()
}

func (r *Router) reportError(c *Conn, err error) {
	if h := r.opts.OnError; h != nil {
		func() {
			defer func() { recover() }() // a panicking error hook has nobody to report to
			h(c, err)
		}()
	}
}
