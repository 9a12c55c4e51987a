package router

import (
	"github.com/deltasync/syncd/protocol"
)

// The outbound queue. Senders append frames under c.mu and return; the
// first sender to find no writer running starts one. The queue is bounded
// in bytes (Options.QueueBytes), so a client that stops reading costs at
// most that much memory; what happens at the bound is Options.OnQueueFull's
// decision, by default closing the connection as a slow consumer (the
// client reconnects and catches up with deltas, which is cheaper for
// everyone than an ever-growing backlog).
//
// Droppable frames (best-effort traffic such as room messages) have a
// smaller budget, Options.DroppableQueueBytes: past it they are dropped
// for that connection, which stays open. Without it, one client publishing
// large messages to a room could overflow, and so close, the queue of
// every other connection in the room; with it, such traffic can fill at
// most that part of a queue, and the rest is left for what must not be
// lost (the document's deltas).

// DroppedFrames returns how many droppable frames were dropped for
// connections whose queue was past Options.DroppableQueueBytes.
func (r *Router) DroppedFrames() uint64 { return r.dropped.Load() }

// Send encodes a message with meta.timestamp and queues it. It never
// blocks. It fails with ErrClosed once the connection is closing, with
// ErrQueueFull if the queue is full, or with the payload's encoding error.
func (c *Conn) Send(typ string, payload any) error {
	return c.sendMeta(typ, protocol.Meta{Timestamp: protocol.Now()}, payload)
}

// SendFrame queues an encoded frame, which may be shared with other
// connections (see [NewFrame]). It never blocks; errors as for Send.
func (c *Conn) SendFrame(f *Frame) error { return c.enqueue(f) }

// Deliver queues f, ignoring errors; it makes *Conn a [Subscriber].
func (c *Conn) Deliver(f *Frame) { c.enqueue(f) }

func (c *Conn) sendMeta(typ string, meta protocol.Meta, payload any) error {
	if c.isClosing() {
		return ErrClosed // before paying for the encoding
	}
	f, err := NewFrameMeta(typ, meta, payload)
	if err != nil {
		return err
	}
	return c.enqueue(f)
}

func (c *Conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// enqueue appends f to the queue and makes sure a writer runs.
func (c *Conn) enqueue(f *Frame) error {
	size := f.Size()
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return ErrClosed
	}
	// Control frames are tiny and must get through; one message larger than
	// the bound may still go through an empty queue. A droppable frame has
	// the smaller bound of its own, and never overflows the queue.
	if f.droppable && c.queued > 0 && c.queued+size > c.r.opts.DroppableQueueBytes {
		c.mu.Unlock()
		c.r.dropped.Add(1)
		return ErrDropped
	}
	if f.op == opText && c.queued > 0 && c.queued+size > c.r.opts.QueueBytes {
		c.mu.Unlock()
		return c.overflow(f)
	}
	// A pong answers a client's ping: a client that pings without reading
	// would otherwise grow the queue without bound. Past the bound the pong
	// is left out (RFC 6455 §5.5.3 lets an endpoint answer only the most
	// recent of several pings).
	if f.op == opPong && c.queued+size > c.r.opts.QueueBytes {
		c.mu.Unlock()
		return ErrDropped
	}
	start := c.pushLocked(f)
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
	return nil
}

// pushLocked appends f and reports whether the caller must start the
// writer.
func (c *Conn) pushLocked(f *Frame) (startWriter bool) {
	c.queue = append(c.queue, f)
	c.queued += f.Size()
	if c.writing {
		return false
	}
	c.writing = true
	return true
}

// dropQueueLocked discards the frames the writer has not taken.
func (c *Conn) dropQueueLocked() {
	for i, f := range c.queue {
		c.queued -= f.Size()
		c.queue[i] = nil
	}
	c.queue = c.queue[:0]
}

// overflow applies the queue-full policy to a send that did not fit.
func (c *Conn) overflow(f *Frame) error {
	action := OverflowClose
	if h := c.r.opts.OnQueueFull; h != nil {
		action = h(c, f)
	}
	if action == OverflowClose {
		c.closeWith(protocol.CloseSlowConsumer, "outbound queue full: reading too slowly", true)
	}
	return ErrQueueFull
}

// QueuedBytes returns the bytes queued and being written.
func (c *Conn) QueuedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued
}
