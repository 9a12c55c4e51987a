package router

import (
	"bufio"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
)

// Conn is one client connection. Every method is safe to call from any
// goroutine, and none blocks on the network: Send and SendFrame queue the
// message for the connection's writer and return.
//
// A Conn has one goroutine while idle, its reader, which also runs the
// handlers of its messages one at a time, in order. A writer goroutine
// exists only while there is something queued to write. See the package
// documentation for who owns what.
type Conn struct {
	r    *Router
	ws   *websocket.Conn
	wire *wireConn
	id   string
	addr string // the client address counted by the connection caps
	data any
	// attempt is the connection attempt's value (attempt.go).
	attempt string
	// opened is when the connection was upgraded; set once, before the
	// Conn is shared, so it is read without a lock.
	opened time.Time

	// lastHeard is when the reader last read a frame (see heard): the
	// heartbeat measures silence from it, not from the tick that found
	// the connection alive, so that a silent connection is closed within
	// one interval after HeartbeatTimeout whatever the ticks' jitter.
	lastHeard atomic.Int64

	// Reader-goroutine state.
	br      *bufio.Reader // gorilla's reader, when the router made it (see hijacker); else nil
	carrier *bufio.Reader // see releaseReadBuffer
	flood   bucket        // the flood guard (see admit)
	strikes int           // messages refused in a row by the flood guard
	// A message being read (see partial.go): msgActive from its first
	// frame to its end; msgArmed once it had to wait for the network,
	// when its deadline is set and its bytes count against the budget.
	msgActive, msgArmed bool

	mu sync.Mutex // guards the fields below; never held across I/O
	// queue holds the frames not yet taken by the writer; queued counts
	// their bytes plus those of the batch the writer is writing.
	queue  []*Frame
	inline [4]*Frame // the queue's storage while it is short: no allocation per message
	queued int
	// writing: a writer goroutine is running. writerExit, when not nil, is
	// closed by the writer as it exits (the reader waits on it).
	writerExit chan struct{}
	writing    bool
	// closing: a close was started (by either side); no more sends.
	// (The flags are kept together: the Conn is on every idle
	// connection, and padding is memory.)
	closing     bool
	stale       bool // closed for a heartbeat timeout
	draining    bool // discarding the rest of an oversized message; see discardInput
	finished    bool // the reader has cleaned up
	ended       bool // OnClose has returned
	closeCode   int
	closeReason string
	done        chan struct{} // made by the first Done; closed once ended
	values      map[string]any
	ctx         context.Context
	cancel      context.CancelFunc

	subMu sync.Mutex // serialises topic changes with the final cleanup
	// The connection's topics: the common case, one, is kept in topic
	// ("" for none); topics is made only for the others.
	topic      string
	topics     map[string]struct{}
	subsClosed bool
}

func newConn(r *Router, ws *websocket.Conn, wire *wireConn, br *bufio.Reader, id string, data any) *Conn {
	c := &Conn{r: r, ws: ws, wire: wire, br: br, id: id, data: data, opened: time.Now()}
	wire.conn = c
	c.lastHeard.Store(monoNow())
	c.queue = c.inline[:0]
	ws.SetReadLimit(r.opts.MaxMessageBytes)
	ws.SetPingHandler(func(appData string) error {
		c.heard()
		c.enqueue(pongFrame(appData))
		return nil
	})
	ws.SetPongHandler(func(string) error {
		c.heard()
		return nil
	})
	return c
}

// ClientID returns the connection's client id: the canonical form of the
// client's clientId, or the ULID the server assigned.
func (c *Conn) ClientID() string { return c.id }

// SubscriberID is the client id; it makes *Conn a [Subscriber].
func (c *Conn) SubscriberID() string { return c.id }

// Router returns the router the connection belongs to.
func (c *Conn) Router() *Router { return c.r }

// Data returns what Options.Authenticate returned for this connection.
func (c *Conn) Data() any { return c.data }

// Subprotocol returns the negotiated subprotocol ("" if none).
func (c *Conn) Subprotocol() string { return c.ws.Subprotocol() }

// Opened returns when the connection was opened (its upgrade).
func (c *Conn) Opened() time.Time { return c.opened }

// ClientAddr returns the client's address as the connection caps count it:
// the socket's peer, or what a trusted proxy said (Options.TrustedProxies).
func (c *Conn) ClientAddr() string { return c.addr }

// RemoteAddr returns the client's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.wire.RemoteAddr() }

// Set stores an application value on the connection.
func (c *Conn) Set(key string, v any) {
	c.mu.Lock()
	if c.values == nil {
		c.values = make(map[string]any)
	}
	c.values[key] = v
	c.mu.Unlock()
}

// Get returns a value stored with Set.
func (c *Conn) Get(key string) (any, bool) {
	c.mu.Lock()
	v, ok := c.values[key]
	c.mu.Unlock()
	return v, ok
}

// Context returns a context that is cancelled when the connection ends.
// It is the context for work done on the connection's behalf; a single
// send needs none (sends never block).
func (c *Conn) Context() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		// Created on first use: most connections never need one.
		c.ctx, c.cancel = context.WithCancel(c.r.opts.BaseContext)
		if c.finished {
			c.cancel()
		}
	}
	return c.ctx
}

// Done returns a channel closed when the connection has ended, after
// OnClose returned.
func (c *Conn) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		// Made on first use: most connections are never waited for.
		c.done = make(chan struct{})
		if c.ended {
			close(c.done)
		}
	}
	return c.done
}

// Close starts closing the connection: messages already queued are
// written, then a close frame with code and reason; the TCP connection is
// dropped when the client answers, or after CloseTimeout. It returns at
// once; later sends fail with ErrClosed. Closing a closing connection does
// nothing. Use the protocol.Close* codes.
func (c *Conn) Close(code int, reason string) { c.closeWith(code, reason, false) }

// Closing reports whether the connection has started closing (Close, or
// its end): it will not be live much longer.
func (c *Conn) Closing() bool { return c.isClosing() }

// closeWith starts the close. drop discards what is still queued (for a
// slow consumer or a dead connection, whose queue will never drain).
func (c *Conn) closeWith(code int, reason string, drop bool) {
	f := closeFrame(code, reason)
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.closeCode, c.closeReason = code, reason
	c.stale = code == protocol.CloseHeartbeatTimeout
	if drop {
		c.dropQueueLocked()
	}
	start := c.pushLocked(f)
	draining := c.draining
	c.mu.Unlock()
	// Bound the wait for the client's close frame (and the close of a
	// client that reads nothing at all): the reader gives up at this
	// deadline and drops the TCP connection. A connection closed with its
	// queue dropped is dead or not reading, and will not answer: waiting
	// the full CloseTimeout would only delay its cleanup (and the
	// announcement that its presence left).
	wait := c.r.opts.CloseTimeout
	if drop {
		wait = min(wait, deadPeerCloseWait)
	}
	if !draining { // discardInput keeps its own, shorter deadline
		c.wire.Conn.SetReadDeadline(time.Now().Add(wait))
	}
	if start {
		go c.writeLoop()
	}
}

// deadPeerCloseWait is how long a connection closed for a heartbeat timeout
// or an overflowing queue waits for the client's close frame.
const deadPeerCloseWait = 250 * time.Millisecond

// abort drops the TCP connection at once: the reader and writer fail and
// clean up. For connections that cannot be closed politely.
func (c *Conn) abort() { c.wire.Conn.Close() }

// finish is the reader's last act: it records how the connection ended,
// stops the writer, releases everything, and runs the close hooks.
func (c *Conn) finish(code int, reason string) {
	c.mu.Lock()
	if c.closeCode == 0 { // the client (or the network) ended it
		c.closeCode, c.closeReason = code, reason
	}
	c.closing = true
	code, reason, stale := c.closeCode, c.closeReason, c.stale
	c.dropQueueLocked()
	var wait chan struct{}
	if c.writing {
		wait = make(chan struct{})
		c.writerExit = wait
	}
	c.mu.Unlock()

	// The reader only gets here once the close handshake is over, the
	// close deadline passed, or the network failed: any write still in
	// flight is pointless, and closing the socket ends it.
	c.wire.Conn.Close()
	c.r.counter.release(c.addr)
	if wait != nil {
		<-wait
	}
	c.r.unregister(c)
	c.leaveAllTopics()

	c.mu.Lock()
	c.finished = true
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if stale && c.r.opts.OnStale != nil {
		c.r.safeHook(c, func() { c.r.opts.OnStale(c) })
	}
	if c.r.opts.OnClose != nil {
		c.r.safeHook(c, func() { c.r.opts.OnClose(c, code, reason) })
	}
	c.mu.Lock()
	c.ended = true
	done := c.done
	c.mu.Unlock()
	if done != nil {
		close(done)
	}
}
