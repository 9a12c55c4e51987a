package router

import (
	"time"

	"github.com/deltasync/syncd/protocol"
)

// Heartbeat. One goroutine per router, not a timer per connection (which
// would cost memory on every idle connection and a timer reset on every
// message): every HeartbeatInterval it visits each connection. The reader
// records the time of every frame it reads (a message, a ping, a pong; see
// heard). A connection silent for HeartbeatTimeout is closed with
// CloseHeartbeatTimeout (and OnStale runs); one silent for half an interval
// or more is sent a ping frame, whose pong will be heard. A ping is an
// ordinary queued frame, so a stalled client delays nobody's heartbeat.
//
// Pinging every connection not heard from in the last half interval (not
// only those silent since the previous tick) keeps a client that only
// answers pings, such as an idle browser tab, at most one interval (plus its
// round trip) silent at any tick, so any HeartbeatTimeout longer than the
// interval keeps it connected.
//
// ws-kit's in-band keep-alive, {"type":"__heartbeat"}, is answered by the
// reader (see dispatch) and, like every message, is heard.

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
				c.heartbeat(now, r.opts.HeartbeatInterval, r.opts.HeartbeatTimeout)
			}
			clear(conns)
		}
	}
}

// monoStart is the origin of lastHeard's clock: time.Since reads the
// monotonic clock, which neither steps nor slews with the wall clock.
var monoStart = time.Now()

// monoNow is the time since monoStart, in nanoseconds.
func monoNow() int64 { return int64(time.Since(monoStart)) }

// heard records that a frame was read from the connection. The reader (and
// gorilla's ping and pong handlers, which run on it) calls it on every
// frame: one monotonic clock read and one atomic store.
func (c *Conn) heard() {
	c.lastHeard.Store(monoNow())
}

// heartbeat checks one connection at tick now. Only the heartbeat goroutine
// calls it. Silence is measured from the last frame read, so the connection
// is closed at the first tick at least timeout after it: between timeout
// and timeout plus one interval (PROTOCOL.md §6.10). (Measuring it from the
// tick that last found the connection alive, as this once did, added up to
// one more interval, and another when a tick landed a hair early.)
func (c *Conn) heartbeat(now time.Time, interval, timeout time.Duration) {
	silent := c.silentFor(now)
	if silent >= timeout {
		// Its queue will never drain: drop it.
		c.closeWith(protocol.CloseHeartbeatTimeout, "heartbeat timeout", true)
		return
	}
	if silent >= interval/2 {
		c.enqueue(pingFrame)
	}
}

// silentFor returns how long before now the last frame was read.
func (c *Conn) silentFor(now time.Time) time.Duration {
	return now.Sub(monoStart) - time.Duration(c.lastHeard.Load())
}
