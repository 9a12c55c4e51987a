package router

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/deltasync/syncd/protocol"
)

// Partly received messages. A message may come in many frames, and a
// client may send its first frames and then nothing but pings: gorilla
// would hold what arrived (up to MaxMessageBytes) for as long as the
// connection lives, and a few hundred such connections hold hundreds of
// megabytes. So a message that has to wait for the network mid-way is
// bounded twice:
//
//   - in time: from that moment it must be complete within
//     Options.MessageTimeout (the socket's read deadline), else the
//     connection is closed with 1013;
//   - in memory: its bytes count against Options.MaxPartialBytes, a budget
//     shared by every connection of the router; the connection whose
//     message would take the total past it is closed with 1013 (the server
//     is short of memory for input: try again later), and the others go
//     on.
//
// Both closes use 1013, "try again later", rather than 1008 (which tells a
// client to stop) or 1009 (which tells it never to resend the message): a
// legitimate client on a slow link should reconnect after a backoff and
// send the message again.
//
// The moment a message waits for the network is seen below gorilla:
// gorilla reads frames through the connection's bufio.Reader, which reads
// from the wireConn only when it has nothing buffered. So wireConn.Read,
// called while a message is being read (msgActive), arms the message
// (armMessage). A message that arrived whole, the common case, never
// reaches the wireConn mid-way and costs nothing: no deadline to set, no
// shared counter to touch.

var (
	errMessageTimeout = errors.New("router: message not completed in time")
	errPartialBudget  = errors.New("router: partly received messages over budget")
)

// Read is gorilla's read path. Only the reader goroutine reads.
func (w *wireConn) Read(p []byte) (int, error) {
	if c := w.conn; c != nil && c.msgActive && !c.msgArmed {
		c.armMessage()
	}
	return w.Conn.Read(p)
}

// armMessage starts the message's deadline; from now on its bytes count
// against the budget (see readMessage).
func (c *Conn) armMessage() {
	c.msgArmed = true
	if c.r.opts.MessageTimeout > 0 {
		c.setMessageDeadline(time.Now().Add(c.r.opts.MessageTimeout))
	}
}

// endMessage ends the reading of a message: it lifts its deadline and
// gives back the charged bytes.
func (c *Conn) endMessage(charged int) {
	c.msgActive = false
	if !c.msgArmed {
		return
	}
	c.msgArmed = false
	c.r.partial.Add(-int64(charged))
	if c.r.opts.MessageTimeout > 0 {
		c.setMessageDeadline(time.Time{})
	}
}

// setMessageDeadline sets the socket's read deadline for a message, unless
// a close has set its own (closeWith, discardInput), which must stand.
func (c *Conn) setMessageDeadline(t time.Time) {
	c.mu.Lock()
	if !c.closing && !c.draining {
		c.wire.Conn.SetReadDeadline(t)
	}
	c.mu.Unlock()
}

// chargePartial counts n more bytes of partly received messages, unless
// that would pass the budget.
func (r *Router) chargePartial(n int) bool {
	total := r.partial.Add(int64(n))
	if limit := r.opts.MaxPartialBytes; limit > 0 && total > limit {
		r.partial.Add(-int64(n))
		return false
	}
	return true
}

// PartialBytes returns the bytes held for partly received messages, across
// every connection.
func (r *Router) PartialBytes() int64 { return r.partial.Load() }

// messageError classifies the error that ended the reading of a message:
// a timeout while the message's deadline was set, and not a close's, is
// the message's own.
func (c *Conn) messageError(err error) error {
	var ne net.Error
	if c.msgArmed && c.r.opts.MessageTimeout > 0 && errors.As(err, &ne) && ne.Timeout() && !c.isClosing() {
		return errMessageTimeout
	}
	return err
}

// closeForMessage closes the connection after a message that broke the
// deadline or the budget, and says how it ended.
func (c *Conn) closeForMessage(err error) (code int, reason string) {
	code = protocol.CloseTryAgainLater
	if errors.Is(err, errMessageTimeout) {
		reason = fmt.Sprintf("message not completed within %v", c.r.opts.MessageTimeout)
	} else {
		reason = "server busy: too many partly received messages"
	}
	c.Close(code, reason)
	// The client may still be sending the message: read it away for a
	// moment so that it sees the close frame rather than a reset.
	c.discardInput()
	return code, reason
}
