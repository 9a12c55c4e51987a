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

// The reader goroutine: one per connection, for its whole life. It takes
// over the client id, runs OnOpen, then reads messages and runs their
// handlers one at a time, in order, until the connection ends; then it
// cleans up (finish). Every bad input is answered with an ERROR frame and
// the connection goes on, except where it cannot: a message over the size
// limit (1009) and sustained flooding (CloseFlood).

// serve is the reader goroutine's body.
func (c *Conn) serve() {
	defer c.r.wg.Done()
	old, ok := c.r.register(c)
	if !ok {
		c.Close(protocol.CloseGoingAway, "going away, reconnect")
		c.drainUntilClosed()
		c.finish(protocol.CloseGoingAway, "")
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
		case <-old.done:
		case <-t.C:
		}
		t.Stop()
	}
	if h := c.r.opts.OnOpen; h != nil {
		c.r.safeHook(c, func() { h(c) })
	}
	code, reason := c.readLoop()
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
// returns the close code and reason that describe how it ended.
func (c *Conn) readLoop() (int, string) {
	for {
		mt, rd, err := c.ws.NextReader()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.discardInput() // a frame header announced too much
			}
			return closeStatus(err)
		}
		c.alive.Store(true)
		if c.isClosing() {
			continue // after our close frame, messages are dropped (RFC 6455 §1.4)
		}
		if mt != websocket.TextMessage {
			if _, err := io.Copy(io.Discard, rd); err != nil {
				return closeStatus(err)
			}
			c.sendError("", protocol.NewError(protocol.CodeInvalidArgument, "binary frames are not supported: send JSON in text frames"))
			continue
		}
		msg, err := readMessage(rd)
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.discardInput()
			}
			return closeStatus(err)
		}
		if !c.admit() {
			continue
		}
		c.dispatch(msg)
	}
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
// an idle connection from holding one of its own.
func readMessage(rd io.Reader) ([]byte, error) {
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
		if err != nil {
			break
		}
	}
	msg := append([]byte(nil), buf...)
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
