package router

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDroppableFramesNeverOverflow: droppable frames are queued only
// within DroppableQueueBytes; past it they are dropped (ErrDropped) and the
// connection stays open, while ordinary frames still fill the queue up to
// QueueBytes.
func TestDroppableFramesNeverOverflow(t *testing.T) {
	bc := &blockingConn{release: make(chan struct{})}
	r := &Router{opts: Options{QueueBytes: 64 << 10, DroppableQueueBytes: 8 << 10}.withDefaults()}
	c := &Conn{r: r, wire: &wireConn{Conn: bc, timeout: time.Second}}
	c.queue = c.inline[:0]
	defer func() {
		close(bc.release)
		waitIdleWriter(t, c)
	}()

	big := strings.Repeat("x", 1000)
	room, err := NewDroppableFrame("MESSAGE", map[string]string{"data": big})
	if err != nil || !room.Droppable() {
		t.Fatalf("NewDroppableFrame: %v, droppable %v", err, room.Droppable())
	}
	queued, dropped := 0, 0
	for range 50 {
		switch err := c.enqueue(room); {
		case err == nil:
			queued++
		case errors.Is(err, ErrDropped):
			dropped++
		default:
			t.Fatalf("enqueue a droppable frame: %v", err)
		}
	}
	if queued == 0 || dropped == 0 || c.QueuedBytes() > 8<<10 {
		t.Fatalf("%d queued, %d dropped, %d bytes queued: want both, within 8 KiB", queued, dropped, c.QueuedBytes())
	}
	if c.isClosing() || r.DroppedFrames() != uint64(dropped) {
		t.Fatalf("closing %v, DroppedFrames %d (want open, %d)", c.isClosing(), r.DroppedFrames(), dropped)
	}
	// What must not be lost still has the rest of the queue.
	delta, _ := NewFrame("SYNC.DELTAS", map[string]string{"data": big})
	for c.QueuedBytes()+delta.Size() <= 64<<10 {
		if err := c.enqueue(delta); err != nil {
			t.Fatalf("an ordinary frame within QueueBytes: %v", err)
		}
	}
	if c.isClosing() {
		t.Fatal("the connection closed within QueueBytes")
	}
}

// waitIdleWriter waits until c's writer has exited.
func waitIdleWriter(t *testing.T, c *Conn) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		writing := c.writing
		c.mu.Unlock()
		if !writing {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer did not exit")
		}
		time.Sleep(time.Millisecond)
	}
}
