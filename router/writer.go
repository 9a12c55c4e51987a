package router

import (
	"errors"
	"runtime"
	"sync"

	"github.com/deltasync/syncd/protocol"
)

// The writer goroutine. It exists only while a connection has something
// queued: the sender that finds no writer running starts one, and the
// writer exits as soon as it finds the queue empty, so an idle connection
// has no writer and holds no write buffer. Each pass takes everything
// queued, encodes the frames' headers and bytes into one pooled buffer,
// and writes it in one call (see wireConn): messages that pile up while a
// write is in progress go out together in the next one.

const (
	// maxBatch is the most a batch buffer holds before it is written.
	maxBatch = 64 << 10
	// largeFrame: a message at least this big is written from its own
	// bytes, after the batch, rather than copied into it.
	largeFrame = 32 << 10
)

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func (c *Conn) writeLoop() {
	var spare []*Frame // the last batch's slice, reused as the next queue
	// Let whoever queued the first frame finish first: the engine's
	// committer queues one event per subscriber of a batch, and other
	// batches may follow. Yielding once before the first write lets them
	// join this write instead of each costing a syscall. Without it, a
	// server fanning out small commit batches spent its CPU in write(2),
	// commits stayed small, and 100 closed-loop writers on bbolt ran at
	// 3-6k commits/s where they now run at 17-20k (syncbench writers).
	runtime.Gosched()
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.writing = false
			c.queue = c.inline[:0] // drop any grown slice: idle costs nothing
			if c.writerExit != nil {
				close(c.writerExit)
				c.writerExit = nil
			}
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue = spare
		spare = nil
		c.mu.Unlock()

		size, err := c.writeFrames(batch)
		clear(batch) // release the frames
		if cap(batch) > 0 && &batch[:1][0] != &c.inline[0] {
			spare = batch[:0]
		}

		c.mu.Lock()
		c.queued -= size
		if err != nil {
			// Dead or closed: nothing queued will ever be written. After
			// errCloseSent (gorilla echoed the client's close) the reader
			// records the client's code.
			if !c.closing && !errors.Is(err, errCloseSent) {
				c.closeCode, c.closeReason = protocol.CloseAbnormal, "write failed"
			}
			c.closing = true
			c.dropQueueLocked()
		}
		c.mu.Unlock()
		if err != nil && !errors.Is(err, errCloseSent) {
			c.abort() // the reader fails and cleans up
		}
	}
}

// writeFrames writes batch and returns the bytes it accounted for: the
// whole batch, written or not (after an error or a close frame nothing of
// it will ever be written). It stops after a close frame.
func (c *Conn) writeFrames(batch []*Frame) (size int, err error) {
	for _, f := range batch {
		size += f.Size()
	}
	bp := batchPool.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= maxPooledBuffer {
			*bp = buf[:0]
			batchPool.Put(bp)
		}
	}()
	for _, f := range batch {
		n := len(f.data)
		if len(buf) > 0 && len(buf)+n+10 > maxBatch {
			if err := c.wire.writeBatch(buf, nil, false); err != nil {
				return size, err
			}
			buf = buf[:0]
		}
		buf = appendFrameHeader(buf, f.op, n)
		if n >= largeFrame {
			err := c.wire.writeBatch(buf, f.data, false)
			buf = buf[:0]
			if err != nil {
				return size, err
			}
			continue
		}
		buf = append(buf, f.data...)
		if f.op == opClose {
			return size, c.wire.writeBatch(buf, nil, true)
		}
	}
	if len(buf) > 0 {
		err = c.wire.writeBatch(buf, nil, false)
	}
	return size, err
}
