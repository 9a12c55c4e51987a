package router_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/internal/testenv"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// dialSlow dials a client whose socket has a tiny receive buffer and which
// never reads: the server's writes to it stall almost at once.
func (ts *testServer) dialSlow(query string) *websocket.Conn {
	ts.t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		ts.t.Fatal(err)
	}
	c, _, err := testenv.DialWS(ts.t, ts.url, testenv.WSOptions{Query: q, RcvBuf: 1024})
	if err != nil {
		ts.t.Fatal(err)
	}
	return c.WS
}

// TestSlowReaderIsolated: one client that never reads does not delay
// delivery to 50 others, and its server-side queue never exceeds the
// bound. (Whether it also overflows depends on how much the kernel buffers
// on loopback, up to several MB: TestSlowConsumerClosed covers that.) The
// publisher goes in rounds of
// `round` messages, as fast as the 50 readers take them: a burst larger
// than the queue bound would (rightly) close fast readers too.
func TestSlowReaderIsolated(t *testing.T) {
	const (
		readers    = 50
		messages   = 1000
		round      = 50
		queueBytes = 128 << 10
	)
	rec := newRecorder()
	ts := newServer(t, router.Options{
		QueueBytes: queueBytes,
		OnClose:    func(c *router.Conn, code int, _ string) { rec.add("close " + strconv.Itoa(code)) },
	}, nil)
	subscribe := func(id string) {
		c, ok := ts.r.Conn(id)
		for !ok {
			time.Sleep(time.Millisecond)
			c, ok = ts.r.Conn(id)
		}
		if err := c.Subscribe(context.Background(), "all"); err != nil {
			t.Fatal(err)
		}
	}
	const slowID = "01HZY0J5Q8X6T9V3N2M4K7P1RS"
	ts.dialSlow("clientId=" + slowID)
	subscribe(slowID)
	slow, _ := ts.r.Conn(slowID)

	var wg sync.WaitGroup
	var received atomic.Int64
	start := make(chan struct{})
	for i := range readers {
		id := newTestULID(i)
		c, _, err := testenv.DialWS(t, ts.url, testenv.WSOptions{Query: url.Values{"clientId": {id}}})
		if err != nil {
			t.Fatal(err)
		}
		ws := c.WS
		subscribe(id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ws.SetReadDeadline(time.Now().Add(60 * time.Second))
			for n := 0; n < messages; n++ {
				if _, _, err := ws.ReadMessage(); err != nil {
					t.Errorf("reader %d after %d messages: %v", i, n, err)
					return
				}
				received.Add(1)
			}
		}()
	}

	payload := map[string]string{"data": strings.Repeat("x", 1000)}
	f, _ := router.NewFrame("TICK", payload)
	maxQueued := 0
	close(start)
	began := time.Now()
	for i := 0; i < messages; i++ {
		if err := ts.r.PublishFrame(context.Background(), "all", f, router.PublishOptions{}); err != nil {
			t.Fatal(err)
		}
		maxQueued = max(maxQueued, slow.QueuedBytes())
		if (i+1)%round == 0 {
			deadline := time.Now().Add(30 * time.Second)
			for received.Load() < int64(readers*(i+1)) && time.Now().Before(deadline) {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	publishTook := time.Since(began)
	wg.Wait()
	t.Logf("published %d×%dB to %d+1 subscribers in %v; all delivered in %v; slow queue peaked at %d bytes", messages, len(f.Bytes()), readers, publishTook, time.Since(began), maxQueued)
	if got := received.Load(); got != readers*messages {
		t.Fatalf("delivered %d, want %d", got, readers*messages)
	}
	if maxQueued > queueBytes+f.Size() {
		t.Fatalf("slow consumer queue reached %d bytes, bound %d", maxQueued, queueBytes)
	}
	for _, e := range rec.all() {
		if e != "close "+strconv.Itoa(protocol.CloseSlowConsumer) {
			t.Fatalf("a connection closed: %s", e)
		}
	}
}

// TestSlowConsumerClosed: with the default policy, a send that overflows
// the queue closes the connection with CloseSlowConsumer and frees the
// queue; the server goes on.
func TestSlowConsumerClosed(t *testing.T) {
	rec := newRecorder()
	ts := newServer(t, router.Options{
		QueueBytes:   64 << 10,
		CloseTimeout: 200 * time.Millisecond,
		OnClose:      func(c *router.Conn, code int, _ string) { rec.add("close " + strconv.Itoa(code)) },
	}, nil)
	const id = "01HZY0J5Q8X6T9V3N2M4K7P1RC"
	ts.dialSlow("clientId=" + id)
	var c *router.Conn
	for ok := false; !ok; c, ok = ts.r.Conn(id) {
		time.Sleep(time.Millisecond)
	}
	f, _ := router.NewFrame("BIG", map[string]string{"data": strings.Repeat("z", 4000)})
	var err error
	for i := 0; i < 5000 && err == nil; i++ { // up to 20 MB
		err = c.SendFrame(f)
	}
	if !errors.Is(err, router.ErrQueueFull) {
		t.Fatalf("last send: %v", err)
	}
	// Only the batch being written (if any) is still counted.
	if q := c.QueuedBytes(); q > 64<<10+f.Size() {
		t.Fatalf("%d bytes still queued after the overflow", q)
	}
	if err := c.SendFrame(f); !errors.Is(err, router.ErrClosed) {
		t.Fatalf("send after overflow: %v", err)
	}
	if e := rec.wait(t, "close"); e != "close "+strconv.Itoa(protocol.CloseSlowConsumer) {
		t.Fatal(e)
	}
	ts.dial().echo("server goes on")
}

// TestSendNeverBlocks: sends to a client that reads nothing return at once,
// queued until the bound and refused after it.
func TestSendNeverBlocks(t *testing.T) {
	ts := newServer(t, router.Options{
		QueueBytes:  256 << 10,
		OnQueueFull: func(*router.Conn, *router.Frame) router.OverflowAction { return router.OverflowDrop },
	}, nil)
	const id = "01HZY0J5Q8X6T9V3N2M4K7P1RB"
	ws := ts.dialSlow("clientId=" + id)
	var c *router.Conn
	for ok := false; !ok; c, ok = ts.r.Conn(id) {
		time.Sleep(time.Millisecond)
	}
	f, _ := router.NewFrame("BIG", map[string]string{"data": strings.Repeat("y", 4000)})
	var slowest time.Duration
	full := 0
	for i := 0; i < 5000; i++ { // 20 MB: far more than any socket buffer
		t0 := time.Now()
		err := c.SendFrame(f)
		slowest = max(slowest, time.Since(t0))
		if errors.Is(err, router.ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("slowest Send: %v; %d of 5000 refused as queue full", slowest, full)
	if full == 0 {
		t.Fatal("the queue never filled")
	}
	if slowest > time.Second { // a blocked Send would wait for WriteTimeout (10s)
		t.Fatalf("a Send took %v", slowest)
	}
	if q := c.QueuedBytes(); q > 256<<10+f.Size() {
		t.Fatalf("queue %d bytes over its bound", q)
	}
	// OverflowDrop kept the connection: once the client reads, it works.
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	if err := c.Send("HELLO_AGAIN", nil); err != nil && !errors.Is(err, router.ErrQueueFull) {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.QueuedBytes() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("queue never drained")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Send("AFTER", nil); err != nil {
		t.Fatal(err)
	}
}

func newTestULID(i int) string {
	s := strconv.Itoa(i)
	return "01HZY0J5Q8X6T9V3N2M4K70000"[:26-len(s)] + s
}
