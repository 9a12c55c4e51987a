package router

import (
	"errors"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
)

// The reader: one goroutine at a time per connection, for its whole life.
// It takes over the client id, runs OnOpen, then reads messages and runs
// their handlers one at a time, in order, until the connection ends; then
// it cleans up (finish). Every bad input is answered with an ERROR frame
// and the connection goes on, except where it cannot: a message over the
// size limit (1009), a message not completed in time or over the budget of
// partly received bytes (1013, partial.go) and sustained flooding
// (CloseFlood).
//
// Waiting for input. An idle connection's cost is mostly the stack of the
// goroutine that waits for its input, and Go gives a grown stack back only
// in part: a GC halves a parked goroutine's stack only when less than a
// quarter of it, plus an 800-byte margin, is in use, which no goroutine
// parked in a network read ever is with 4 KiB. Reading a message through
// gorilla and running its handler grows a stack to 4 KiB or more; and
// gorilla's read path alone, blocked in the poller, is about 1.4 KiB deep,
// too deep for the runtime to start new goroutines with 2 KiB (it starts
// them with the average stack in use it finds at each GC, plus a margin).
// So the reader never waits for the client in gorilla. When gorilla's
// buffer is empty, which is when its next read would wait on the socket,
// the reader gives the buffer back (readbuf.go), starts a goroutine that
// waits until the socket has something to read (awaitInput, about 0.5 KiB
// deep: it starts and stays at 2 KiB), and goes to wait in nextInput for
// any connection's input. When the input arrives, the waiting goroutine
// hands the connection to a reader waiting in nextInput, which reads on
// with the stack it has grown already, or, if none is waiting, reads on
// itself. A busy connection pays a goroutine start and a handover per
// burst of messages, a few microseconds (BenchmarkEchoRoundTrip). Over TLS,
// or with a read buffer gorilla made itself (ReadBufferSize of 256 or
// less), what is buffered cannot be seen: the reader waits in gorilla.

// serve is the first reader goroutine's body.
func (c *Conn) serve() {
	defer c.r.wg.Done()
	old, err := c.r.register(c)
	if err != nil {
		// Shut down, or a stale attempt (attempt.go): the connection
		// never opens.
		code, reason := protocol.CloseGoingAway, "going away, reconnect"
		if errors.Is(err, errStaleAttempt) {
			code, reason = protocol.CloseReplaced, "a newer connection with the same clientId is live"
		}
		c.Close(code, reason)
		c.drainUntilClosed()
		c.finish(code, "")
		return
	}
	if old != nil {
		// One live connection per client id. Waiting for the old one to
		// finish (bounded) means its OnClose runs before this one's
		// OnOpen, so per-client state is never torn down under the new
		// connection's feet.
		old.Close(protocol.CloseReplaced, "replaced by a newer connection with the same clientId")
		t := time.NewTimer(2 * c.r.opts.CloseTimeout)
		select {
		case <-old.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if h := c.r.opts.OnOpen; h != nil {
		c.r.safeHook(c, func() { h(c) })
	}
	c.r.readBursts(c, false)
}

// awaitInput is the body of a goroutine started by read: it waits, on a
// shallow stack, until the socket has something to read; its stack while
// it waits is the idle connection's. Then an idle reader goroutine, if
// one is waiting in nextInput, reads on with the stack it has already
// grown; if none is, this goroutine does.
func (c *Conn) awaitInput() {
	defer c.r.wg.Done()
	awaitReadable(c.wire.Conn)
	select {
	case c.r.work <- c:
	default:
		c.r.readBursts(c, true)
	}
}

// readBursts reads c's messages (see read), and then, rather than exit,
// waits in nextInput to read on for another connection whose input has
// arrived. waited: c's input has arrived (awaitInput).
func (r *Router) readBursts(c *Conn, waited bool) {
	var linger *time.Timer // made by the first nextInput
	for c != nil {
		if waited {
			c.takeReadBuffer()
		}
		c.read(waited)
		c, waited = r.nextInput(&linger), true
	}
}

// nextInput waits for a connection whose input has arrived, and returns
// it. It returns nil at once if maxIdleReaders goroutines are waiting
// already, and nil after idleReaderLinger without one, or when the router
// shuts down. *linger is the caller's timer, made here on first use.
func (r *Router) nextInput(linger **time.Timer) *Conn {
	defer r.idleReaders.Add(-1)
	if r.idleReaders.Add(1) > maxIdleReaders {
		return nil
	}
	if *linger == nil {
		*linger = time.NewTimer(idleReaderLinger)
	} else {
		(*linger).Reset(idleReaderLinger)
	}
	select {
	case c := <-r.work:
		return c
	case <-(*linger).C:
		return nil
	case <-r.quit:
		return nil
	}
}

// Readers waiting in nextInput keep the stack that a burst of reading grew
// (typically 8 KiB): without them, every burst of messages would start on
// a new 2 KiB stack and grow it again, which costs more than the rest of
// the burst's overhead (BenchmarkEchoRoundTrip). They are few, and leave
// when the router goes quiet.
const (
	maxIdleReaders   = 16
	idleReaderLinger = 100 * time.Millisecond
)

// read reads and dispatches c's messages until the connection ends, and
// cleans up; or, when nothing is buffered, starts a goroutine to wait for
// input (awaitInput) and returns. waited: the input has just arrived.
func (c *Conn) read(waited bool) {
	code, reason, idle := c.readLoop(waited)
	if idle {
		c.releaseReadBuffer()
		// wg counts this goroutine until it returns, so this Add never
		// races Shutdown's Wait.
		c.r.wg.Add(1)
		go c.awaitInput()
		return
	}
	c.finish(code, reason)
}

// drainUntilClosed reads (and ignores) until the close handshake ends.
func (c *Conn) drainUntilClosed() {
	for {
		if _, _, err := c.ws.NextReader(); err != nil {
			return
		}
	}
}

// readLoop reads and dispatches messages until the connection fails, and
// returns the close code and reason that describe how it ended; or stops
// with idle set before a read that would go to an empty socket buffer,
// except for the first read after a wait (waited).
func (c *Conn) readLoop(waited bool) (code int, reason string, idle bool) {
	for ; ; waited = false {
		if !waited && c.idle() {
			return 0, "", true
		}
		mt, rd, err := c.ws.NextReader()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.discardInput() // a frame header announced too much
			}
			code, reason = closeStatus(err)
			return code, reason, false
		}
		c.heard()
		if c.isClosing() {
			continue // after our close frame, messages are dropped (RFC 6455 §1.4)
		}
		msg, err := c.readMessage(rd)
		if err != nil {
			switch {
			case errors.Is(err, websocket.ErrReadLimit):
				c.discardInput()
			case errors.Is(err, errMessageTimeout), errors.Is(err, errPartialBudget):
				code, reason = c.closeForMessage(err)
				return code, reason, false
			}
			code, reason = closeStatus(err)
			return code, reason, false
		}
		if !c.admit(msg) { // every message counts, binary ones too
			continue
		}
		if mt != websocket.TextMessage {
			c.sendError("", protocol.NewError(protocol.CodeInvalidArgument, "binary frames are not supported: send JSON in text frames"))
			continue
		}
		c.dispatch(msg)
	}
}

// idle reports whether gorilla's next read goes to the socket (its buffer
// is empty) and the socket is one that awaitReadable can wait on.
func (c *Conn) idle() bool {
	return c.br != nil && c.br.Buffered() == 0 && pollable(c.wire.Conn)
}

// discardInput reads and drops what the client is still sending, for a
// short while, after an oversized message. gorilla has already queued the
// 1009 close frame; closing the socket with the rest of the message unread
// would make the kernel reset the connection, and the client could see
// the reset (1006) instead of the 1009 and resend the message.
func (c *Conn) discardInput() {
	c.mu.Lock()
	c.draining = true // a concurrent close must not extend the deadline
	c.mu.Unlock()
	c.wire.Conn.SetReadDeadline(time.Now().Add(min(c.r.opts.CloseTimeout, oversizeDrainTime)))
	io.Copy(io.Discard, c.wire.Conn)
}

// oversizeDrainTime bounds discardInput: enough for what is in flight on a
// healthy connection, short enough that a client streaming a huge message
// cannot hold the connection open.
const oversizeDrainTime = 500 * time.Millisecond

// closeStatus describes how a read error ended the connection.
func closeStatus(err error) (int, string) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return ce.Code, ce.Text
	case errors.Is(err, websocket.ErrReadLimit):
		return protocol.CloseMessageTooBig, "message too big"
	case errors.As(err, &ne) && ne.Timeout():
		return protocol.CloseAbnormal, "timeout"
	}
	return protocol.CloseAbnormal, ""
}

var readPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// readMessage reads one message into a pooled buffer and returns an
// exact-size copy: the copy belongs to the message's handler (which may
// keep the payload, e.g. a patch for the log), and the pooled buffer keeps
// an idle connection from holding one of its own. A message that waits for
// the network mid-way is bounded in time and counted against the budget of
// partly received bytes (partial.go): it fails with errMessageTimeout or
// errPartialBudget.
func (c *Conn) readMessage(rd io.Reader) ([]byte, error) {
	c.msgActive = true
	charged := 0
	bp := readPool.Get().(*[]byte)
	buf := (*bp)[:0]
	var err error
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		var n int
		n, err = rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if c.msgArmed && len(buf) > charged {
			if !c.r.chargePartial(len(buf) - charged) {
				err = errPartialBudget
				break
			}
			charged = len(buf)
		}
		if err != nil {
			break
		}
	}
	if err != io.EOF {
		err = c.messageError(err)
	}
	c.endMessage(charged)
	var msg []byte
	if err == io.EOF {
		msg = append([]byte(nil), buf...)
	}
	if cap(buf) <= maxPooledBuffer {
		*bp = buf[:0]
		readPool.Put(bp)
	}
	if err == io.EOF {
		return msg, nil
	}
	return nil, err
}

// dispatch decodes the envelope, answers the control and bad messages,
// and runs the route's handler chain.
func (c *Conn) dispatch(msg []byte) {
	env, err := protocol.DecodeEnvelope(msg)
	if err != nil {
		// No correlationId can be trusted from a broken envelope: ERROR.
		c.sendError("", protocol.AsError(err))
		return
	}
	cid := env.Meta.CorrelationID
	if env.Type == protocol.TypeHeartbeatPing {
		c.sendHeartbeatAck()
		return
	}
	if protocol.IsReservedType(env.Type) {
		c.sendError(cid, protocol.Errorf(protocol.CodeInvalidArgument, "type: %q is reserved (types starting with __ or $)", env.Type))
		return
	}
	rt := c.r.routes[env.Type]
	if rt == nil {
		// UNIMPLEMENTED, not NOT_FOUND: ws-kit's guidance for an unknown
		// message type, so that clients can tell version skew from a
		// missing resource.
		c.sendError(cid, protocol.Errorf(protocol.CodeUnimplemented, "type: no handler for message type %q", env.Type))
		return
	}
	x := &Ctx{conn: c, typ: rt.typ, meta: env.Meta, payload: env.Payload}
	c.run(rt, x)
}

// run calls the handler chain, answering its error or panic.
func (c *Conn) run(rt *route, x *Ctx) {
	defer func() {
		if v := recover(); v != nil {
			perr := &PanicError{Value: v, Stack: debug.Stack()}
			x.Error(protocol.NewError(protocol.CodeInternal, "internal error"))
			c.r.reportError(c, perr)
		}
	}()
	if err := rt.handler(x); err != nil {
		x.Error(err) // ErrAlreadyReplied if the handler answered already
		c.r.reportError(c, err)
	}
}

func (c *Conn) sendHeartbeatAck() {
	// Exactly ws-kit's shape: meta has ts and nothing else.
	c.sendMeta(protocol.TypeHeartbeatAck, protocol.Meta{TS: protocol.Now()}, nil)
}
