package server_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
)

// Isolation (guarantee 6): a client that never reads does not slow
// delivery to the others, and what the server holds for it stays within
// its queue bound until the server gives up on it (4503).

// collect reads until it has seen the operations of client from with the
// given request ids, in order and contiguous, or until deadline. It runs
// on a goroutine of its own, so it reports instead of failing.
func (c *client) collect(from string, ids []string, deadline time.Time) error {
	next := 0
	var last int64 = -1
	for next < len(ids) {
		m, err := c.tryRead(time.Until(deadline))
		if err != nil {
			return fmt.Errorf("client %s after %d of %d: %w", c.id, next, len(ids), err)
		}
		if m.Type == protocol.TypePresence {
			continue
		}
		if m.Type != protocol.TypeSyncDeltas {
			return fmt.Errorf("client %s: unexpected %s", c.id, m)
		}
		var d protocol.SyncDeltas
		if err := d.UnmarshalPayload(m.Payload); err != nil {
			return err
		}
		if len(d.Operations) == 0 || d.AckedReqID != "" {
			return fmt.Errorf("live SYNC.DELTAS empty or with ackedReqId: %s", m)
		}
		for _, op := range d.Operations {
			if last >= 0 && int64(op.Rev) != last+1 {
				return fmt.Errorf("client %s: rev %d after %d", c.id, op.Rev, last)
			}
			last = int64(op.Rev)
			if op.ClientID == protocol.AuthorID(from) && next < len(ids) && op.ClientReqID == ids[next] {
				next++
			}
		}
	}
	return nil
}

func TestIsolationStalledClient(t *testing.T) {
	const (
		readers    = 50
		updates    = 50
		queueBytes = 256 << 10
		chunk      = 32 << 10
	)
	ev := newEnv(t, syncd.Options{}, server.Options{Limits: server.Limits{
		OutboundQueueBytes: queueBytes,
		MessagesPerSecond:  10000, Burst: 20000,
		UpdatesPerSecond: 10000, UpdateBurst: 20000,
	}})
	const doc = "iso/doc"
	if s := ev.dial(""); s.hello.Limits[protocol.LimitMaxQueueBytes] != queueBytes {
		t.Fatalf("HELLO maxQueueBytes %d", s.hello.Limits[protocol.LimitMaxQueueBytes])
	}

	// The stalled client joins the document and a second one, then never reads
	// again; its socket's receive buffer is small, so the server's writes
	// to it soon block.
	//
	// What fills its queue is a second document only it has joined, whose
	// deltas must not be lost (room messages would not do: they are
	// dropped for a connection that far behind, never overflowing it).
	const hose = "iso/hose"
	stalled := ev.dialWith(dialOpts{rcvBuf: 4096})
	stalledSnap := stalled.join(doc)
	stalled.join(hose)
	conn, ok := ev.server.Router().Conn(stalled.id)
	if !ok {
		t.Fatal("no server connection for the stalled client")
	}
	rs := make([]*client, readers)
	for i := range rs {
		rs[i] = ev.dial("")
		rs[i].join(doc)
	}
	writer := ev.dial("")
	writer.join(doc)

	// Watch the server's queue for the stalled client all along.
	var maxQueued atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if q := int64(conn.QueuedBytes()); q > maxQueued.Load() {
				maxQueued.Store(q)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	// Phase 1: fill the stalled client's pipe, until the server's writer
	// for it is blocked with two chunks queued.
	data := strings.Repeat("z", chunk)
	sent := 0
	for ; sent < 400 && conn.QueuedBytes() < 2*chunk; sent++ {
		ev.commit(hose, map[string]any{"z": fmt.Sprintf("%d%s", sent, data)})
		if sent%8 == 7 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitFor(t, 30*time.Second, "the stalled client's queue to grow", func() bool { return conn.QueuedBytes() >= 2*chunk })
	t.Logf("after %d chunks of %d KiB the server queues %d KiB for the stalled client", sent, chunk>>10, conn.QueuedBytes()>>10)

	// Phase 2: the writer sends N updates; every reader gets all of them,
	// promptly (well before the router's 10 s write timeout could free a
	// blocked publisher).
	ids := make([]string, updates)
	for i := range ids {
		ids[i] = fmt.Sprintf("iso-%04d", i)
	}
	start := time.Now()
	deadline := start.Add(8 * time.Second)
	errs := make(chan error, readers)
	for _, r := range rs {
		go func(r *client) { errs <- r.collect(writer.id, ids, deadline) }(r)
	}
	for i, id := range ids {
		writer.update(doc, map[string]any{"k": i}, id)
	}
	var failed error
	for range rs {
		if err := <-errs; err != nil && failed == nil {
			failed = err
		}
	}
	took := time.Since(start)
	if failed != nil {
		t.Fatalf("delivery to the readers: %v", failed)
	}
	if err := writer.collect(writer.id, ids, time.Now().Add(readTimeout)); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d updates reached %d readers in %v", updates, readers, took)
	if took > 5*time.Second {
		t.Fatalf("delivery took %v: a stalled client slowed everyone", took)
	}

	// Phase 3: keep feeding the stalled client until the server gives up
	// on it: its queue overflows, the connection is closed as a slow
	// consumer, and the queue is freed.
	for i := 0; i < 400 && ev.metricValue("syncd_queue_overflows_total") == 0; i++ {
		ev.commit(hose, map[string]any{"z": fmt.Sprintf("%d%s", i, data)})
		time.Sleep(time.Millisecond)
	}
	waitFor(t, readTimeout, "the slow consumer to overflow", func() bool { return ev.metricValue("syncd_queue_overflows_total") == 1 })
	// Reading now, the stalled client gets what was written, then the
	// close frame.
	code, err := stalled.tryCloseCode()
	if err != nil || code != protocol.CloseSlowConsumer || !protocol.ShouldReconnect(code) {
		t.Fatalf("stalled client closed with %d (%v), want %d", code, err, protocol.CloseSlowConsumer)
	}
	waitFor(t, readTimeout, "the stalled connection to go", func() bool {
		_, ok := ev.server.Router().Conn(stalled.id)
		return !ok
	})
	if q := maxQueued.Load(); q > queueBytes+1024 {
		t.Fatalf("the server queued up to %d bytes for the stalled client, bound %d", q, queueBytes)
	} else {
		t.Logf("most queued for the stalled client: %d KiB of %d KiB", q>>10, queueBytes>>10)
	}
	if ev.metricValue("syncd_queue_overflows_total") != 1 {
		t.Fatal("more than one overflow")
	}

	// The others carry on; the stalled client reconnects and resumes.
	op := writer.edit(doc, map[string]any{"after": true})
	for _, r := range rs {
		r.ackFrom(writer.id, op.ClientReqID)
	}
	back := ev.dialID(stalled.id)
	ans := back.joinAt(doc, revision.Position{Epoch: stalledSnap.Epoch, Rev: stalledSnap.Rev})
	if got := ans.pos(); got.Rev != op.Rev {
		t.Fatalf("resumed at %d, want %d", got.Rev, op.Rev)
	}
}
