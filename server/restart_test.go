package server_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/boltstore"
)

// Graceful shutdown and restart on a bbolt store: clients are told to go
// away (1001), come back to the restarted server, resume with deltas from
// their (epoch, rev), and resend what was pending; nothing acknowledged is
// lost and nothing is applied twice.

func openBolt(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	st, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// shutdownAsync closes ev (server, engine, store) on a goroutine of its
// own, so that the test's clients can read their close frames meanwhile.
func shutdownAsync(ev *env) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		ev.close()
	}()
	return done
}

func waitDone(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown did not finish")
	}
}

// follower applies what a client reads: its position and the edits it has
// seen acknowledged.
type follower struct {
	pos   revision.Position
	acked map[string]revision.Rev // own request id → rev
}

func (f *follower) apply(t *testing.T, c *client, m msg) {
	t.Helper()
	switch m.Type {
	case protocol.TypeSyncDeltas:
		d := decodeAs[protocol.SyncDeltas](t, m)
		if d.FromRev != f.pos.Rev || len(d.Operations) == 0 {
			t.Fatalf("deltas %d..%d at position %d", d.FromRev, d.ToRev, f.pos.Rev)
		}
		for _, op := range d.Operations {
			if op.ClientID == c.author {
				f.acked[op.ClientReqID] = op.Rev
			}
		}
		f.pos.Rev = d.ToRev
	case protocol.TypePresence, protocol.TypeError:
		// An ERROR here would be a refusal: none is expected.
		if m.Type == protocol.TypeError {
			t.Fatalf("refusal %s", m)
		}
	default:
		t.Fatalf("unexpected %s", m)
	}
}

func TestGracefulShutdown(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "shutdown/doc"
	a := ev.dial("")
	a.join(doc)
	b := ev.dial("")
	b.join(doc)
	op := a.edit(doc, map[string]any{"x": 1})
	b.ackFrom(a.id, op.ClientReqID)
	if code, _, _ := ev.do("GET", "/readyz", "", nil); code != http.StatusOK {
		t.Fatalf("readyz %d", code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ev.server.Shutdown(ctx) }()
	for _, c := range []*client{a, b} {
		if code := c.closeCode(); code != protocol.CloseGoingAway || !protocol.ShouldReconnect(code) {
			t.Fatalf("close %d, want 1001 (reconnect)", code)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if n := ev.server.Router().Len(); n != 0 {
		t.Fatalf("%d connections left", n)
	}
	// Not ready any more, still alive; new connections are refused.
	if code, _, _ := ev.do("GET", "/readyz", "", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz %d after shutdown", code)
	}
	if code, _, _ := ev.do("GET", "/healthz", "", nil); code != http.StatusOK {
		t.Fatalf("healthz %d after shutdown", code)
	}
	refusedUpgrade(t, ev, dialOpts{}, http.StatusServiceUnavailable)
	if s := ev.snapshot(doc); s.Rev != op.Rev {
		t.Fatalf("rev %d after shutdown", s.Rev)
	}
}

func TestRestartResumeExactlyOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syncd.db")
	ev := newEnvStore(t, openBolt(t, path), syncd.Options{}, server.Options{})
	const doc = "restart/doc"
	ev.pad(doc, 32<<10)
	id := newClientID()
	a := ev.dialID(id)
	snap := a.join(doc)
	b := ev.dial("")
	b.join(doc)
	f := &follower{pos: revision.Position{Epoch: snap.Epoch, Rev: snap.Rev}, acked: map[string]revision.Rev{}}

	var keys []string
	for i := 0; i < 3; i++ {
		keys = append(keys, fmt.Sprintf("k%d", i))
		rid := a.nextReq()
		a.update(doc, map[string]any{keys[i]: i}, rid)
		for f.acked[rid] == 0 {
			f.apply(t, a, a.read())
		}
	}
	// Three more are sent as the server begins to shut down.
	var pending []pendingEdit
	for i := 3; i < 6; i++ {
		keys = append(keys, fmt.Sprintf("k%d", i))
		p := pendingEdit{id: a.nextReq(), patch: map[string]any{keys[i]: i}}
		pending = append(pending, p)
		a.update(doc, p.patch, p.id)
	}
	done := shutdownAsync(ev)
	// A reads to the end: the acknowledgements that made it, then 1001.
	code := 0
	for i := 0; i < 100 && code == 0; i++ {
		m, err := a.tryRead(10 * time.Second)
		if err != nil {
			var ok bool
			if code, ok = closeCodeOf(err); !ok {
				t.Fatalf("A's connection ended with %v", err)
			}
			break
		}
		f.apply(t, a, m)
	}
	if code != protocol.CloseGoingAway {
		t.Fatalf("close %d, want 1001", code)
	}
	if c := b.closeCode(); c != protocol.CloseGoingAway {
		t.Fatalf("B's close %d", c)
	}
	waitDone(t, done)
	t.Logf("before the shutdown A saw %d of 6 edits acknowledged, at rev %d", len(f.acked), f.pos.Rev)

	// Restart on the same file.
	ev2 := newEnvStore(t, openBolt(t, path), syncd.Options{}, server.Options{})
	// Nothing acknowledged was lost.
	byReq := map[string]*syncd.Op{}
	for _, op := range ev2.ops(doc) {
		if op.ClientID == id {
			byReq[op.ClientReqID] = op
		}
	}
	for rid, rev := range f.acked {
		if op := byReq[rid]; op == nil || op.Rev != rev {
			t.Fatalf("acknowledged edit %s at rev %d lost in the restart (found %+v)", rid, rev, op)
		}
	}
	// Others edit the document while A is away.
	c := ev2.dial("")
	c.join(doc)
	c.edit(doc, map[string]any{"other": 1})
	last := c.edit(doc, map[string]any{"other": 2})

	// A comes back and resumes with deltas from its position.
	a2 := ev2.dialID(id)
	a2.seq = a.seq
	ans := a2.joinAt(doc, f.pos)
	if ans.deltas == nil {
		t.Fatalf("resume from %v: want deltas, got gap %+v", f.pos, ans.gap)
	}
	d := ans.deltas
	if d.Epoch != f.pos.Epoch || d.FromRev != f.pos.Rev || d.ToRev != last.Rev {
		t.Fatalf("deltas %s %d..%d, want %d..%d", d.Epoch, d.FromRev, d.ToRev, f.pos.Rev, last.Rev)
	}
	var lastAcked string
	for rid := range f.acked {
		if revision.CompareReqID(rid, lastAcked) > 0 {
			lastAcked = rid
		}
	}
	if revision.CompareReqID(ans.acked(), lastAcked) < 0 {
		t.Fatalf("ackedReqId %q after the restart, below the last acknowledged %s", ans.acked(), lastAcked)
	}
	// The watermark survived: an acknowledged id is already decided.
	a2.update(doc, map[string]any{"dup": true}, lastAcked)
	updateDetails(t, a2.expectError(protocol.CodeAlreadyExists), doc, lastAcked)
	t.Logf("after the restart: ackedReqId %s, catch-up of %d ops", ans.acked(), len(d.Operations))
	var still []pendingEdit
	for _, p := range pending {
		if f.acked[p.id] == 0 {
			still = append(still, p)
		}
	}
	for _, rid := range a2.resumeEdits(doc, ans, still) {
		a2.ack(rid)
	}
	ev2.onceEach(t, doc, keys)
	if st := ev2.state(doc); st["dup"] != nil || st["other"] == nil {
		t.Fatalf("state %v", st)
	}
}
