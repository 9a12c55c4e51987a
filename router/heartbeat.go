package router

import (
	"time"

	"github.com/deltasync/syncd/protocol"
)

// Heartbeat. One goroutine per router, not a timer per connection (which
// would cost memory on every idle connection and a timer reset on every
// message): every HeartbeatInterval it visits each connection. The reader
// marks a connection alive on every frame it reads (a message, a ping, a
// pong); the tick clears the mark. A connection found alive is left alone;
// one that has been silent for HeartbeatTimeout is closed with
// CloseHeartbeatTimeout (and OnStale runs); any other silent one is sent a
// ping frame, whose pong will mark it alive. A ping is an ordinary queued
// frame, so a stalled client delays nobody's heartbeat.
//
// ws-kit's in-band keep-alive, {"type":"__heartbeat"}, is answered by the
// reader (see dispatch) and, like every message, marks the connection
// alive.

// heartbeatLoop runs until stop is closed. It is started with the first
// connection and stopped by Shutdown.
func (r *Router) heartbeatLoop(stop <-chan struct{}) {
	defer r.wg.Done()
	t := time.NewTicker(r.opts.HeartbeatInterval)
	defer t.Stop()
	var conns []*Conn
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			conns = r.snapshot(conns[:0])
			for _, c := range conns {
				c.heartbeat(now, r.opts.HeartbeatTimeout)
			}
			clear(conns)
		}
	}
}

// heartbeat checks one connection. Only the heartbeat goroutine calls it.
func (c *Conn) heartbeat(now time.Time, timeout time.Duration) {
	if c.alive.Swap(false) {
		c.lastSeen = now
		return
	}
	if now.Sub(c.lastSeen) >= timeout {
		// Its queue will never drain: drop it.
		c.closeWith(protocol.CloseHeartbeatTimeout, "heartbeat timeout", true)
		return
	}
	c.enqueue(pingFrame)
}
