package router_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// TestPingFloodQueueBounded: a client that sends pings and reads nothing
// makes the server queue a pong per ping. Pongs are control frames, which
// enqueue used to let past the QueueBytes bound: the queue must stay
// bounded (or the connection be closed as a slow consumer), as
// PROTOCOL.md §6.11 (maxQueueBytes) and the queue's documentation promise.
func TestPingFloodQueueBounded(t *testing.T) {
	const queueBytes = 64 << 10
	ts := newServer(t, router.Options{QueueBytes: queueBytes}, nil)
	const id = "01HZY0J5Q8X6T9V3N2M4K7P1RS"
	ws := ts.dialSlow("clientId=" + id)
	var c *router.Conn
	for ok := false; !ok; c, ok = ts.r.Conn(id) {
		time.Sleep(time.Millisecond)
	}
	payload := []byte(strings.Repeat("p", 125))
	// A second of pings: without a bound the queue passes 2 × QueueBytes
	// within two rounds of 1,000.
	deadline := time.Now().Add(time.Second)
	peak := 0
	for time.Now().Before(deadline) && !c.Closing() {
		for i := 0; i < 1000; i++ {
			if err := ws.WriteControl(websocket.PingMessage, payload, time.Now().Add(time.Second)); err != nil {
				t.Fatalf("ping: %v", err)
			}
		}
		if q := c.QueuedBytes(); q > peak {
			peak = q
		}
		if peak > 16*queueBytes {
			break
		}
	}
	if peak > 2*queueBytes {
		t.Fatalf("outbound queue held %d bytes of pongs with QueueBytes %d, connection still open (closing=%v)", peak, queueBytes, c.Closing())
	}
}

// TestBinaryFramesFloodGuarded: the flood guard is "a token bucket over
// every message a connection sends" (PROTOCOL.md §6.11): binary messages
// count too. A client sending binary frames past the rate gets
// RESOURCE_EXHAUSTED and, sustained, close 4429, not an INVALID_ARGUMENT
// answer for each of them forever.
func TestBinaryFramesFloodGuarded(t *testing.T) {
	ts := newServer(t, router.Options{MessagesPerSecond: 1, Burst: 1, FloodCloseAfter: 10}, nil)
	victim := ts.dial()
	go func() {
		for i := 0; i < 50; i++ {
			if victim.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}) != nil {
				return
			}
		}
	}()
	invalid := 0
	for {
		_, data, err := victim.ws.ReadMessage()
		if err != nil {
			code, _ := closeCodeOf(err)
			if code != protocol.CloseFlood {
				t.Fatalf("connection ended with %v after %d INVALID_ARGUMENT answers, want close %d", err, invalid, protocol.CloseFlood)
			}
			return
		}
		if strings.Contains(string(data), `"INVALID_ARGUMENT"`) {
			invalid++
			if invalid > 5 {
				t.Fatalf("%d binary frames answered INVALID_ARGUMENT at 1 message/s (burst 1): the flood guard does not count them", invalid)
			}
		}
	}
}

func closeCodeOf(err error) (int, bool) {
	if ce, ok := err.(*websocket.CloseError); ok {
		return ce.Code, true
	}
	return 0, false
}

// TestQueuedBytesZeroAfterFailedWrite: when a write fails mid-batch (a
// client that reads nothing hits WriteTimeout), every frame of the batch
// is gone, and QueuedBytes ("the bytes queued and being written") must come
// back to zero: the frames of the batch after the failed write were never
// subtracted. (Whether the failed write is mid-batch depends on timing, so
// the test tries a few connections.)
func TestQueuedBytesZeroAfterFailedWrite(t *testing.T) {
	ts := newServer(t, router.Options{QueueBytes: 64 << 20, WriteTimeout: 300 * time.Millisecond}, nil)
	text := strings.Repeat("x", 10<<10)
	for try := 0; try < 20; try++ {
		id := newTestULID(try)
		ts.dialSlow("clientId=" + id)
		var c *router.Conn
		for ok := false; !ok; c, ok = ts.r.Conn(id) {
			time.Sleep(time.Millisecond)
		}
		for i := 0; i < 5000; i++ {
			if c.Send("NOTE", map[string]any{"text": text}) != nil {
				break
			}
		}
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("connection did not end after its write timed out")
		}
		if q := c.QueuedBytes(); q != 0 {
			t.Fatalf("try %d: QueuedBytes %d after the connection ended, want 0", try, q)
		}
	}
}

// TestDroppableNeverClosesWithLargeBudget: "best-effort traffic can never
// overflow a queue and close a connection as a slow consumer"
// (Options.DroppableQueueBytes), whatever the two budgets are. With a
// droppable budget larger than QueueBytes (accepted by New, and by syncd's
// -room-queue-bytes and -queue-bytes), droppable frames that pass their
// own bound overflow the queue and close the connection with 4503.
func TestDroppableNeverClosesWithLargeBudget(t *testing.T) {
	const queueBytes = 64 << 10
	ts := newServer(t, router.Options{QueueBytes: queueBytes, DroppableQueueBytes: 4 * queueBytes}, nil)
	const id = "01HZY0J5Q8X6T9V3N2M4K7P1RS"
	ts.dialSlow("clientId=" + id)
	var c *router.Conn
	for ok := false; !ok; c, ok = ts.r.Conn(id) {
		time.Sleep(time.Millisecond)
	}
	f, err := router.NewDroppableFrame("MESSAGE", map[string]any{"data": strings.Repeat("m", 1000)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20000; i++ {
		if err := c.SendFrame(f); err != nil && err != router.ErrDropped {
			t.Fatalf("droppable send %d: %v (connection closing: %v)", i, err, c.Closing())
		}
	}
	if c.Closing() {
		t.Fatal("droppable frames closed the connection")
	}
}
