package client_test

import (
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// TestResumeSettlesLostOutcomes loses the server's answers to two edits:
// one committed (its echo lost), one refused (its ERROR lost). After the
// reconnect, the JOIN answer's deltas show the first committed (it is not
// sent again); the second is at or below ackedReqId and not seen
// committed, so it is re-issued under a new id (PROTOCOL.md §6.8 step 3),
// refused again, rolled back and reported.
func TestResumeSettlesLostOutcomes(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	// Padding, so that the resume is answered with deltas.
	ev.commit("doc", map[string]any{"x": 1, "pad": strings.Repeat("p", 50_000)})
	p := newProxy(t, ev.addr)
	rejected := make(chan client.Rejection, 10)
	c := dial(t, p.url, func(o *client.Options) { o.OnReject = func(r client.Rejection) { rejected <- r } })
	d := join(t, c, "doc")

	p.muted.Store(true)
	ev.commit("doc", map[string]any{"x": 5}) // the client does not see it
	id1, err := d.Merge(`{"a":1}`)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := d.Patch(`[{"op":"test","path":"/x","value":1},{"op":"replace","path":"/x","value":2}]`)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitTimeout)
	for ev.snapshot("doc").Rev < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the first edit never committed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the refusal of the second is recorded
	if d.Pending() != 2 {
		t.Fatalf("pending %d, want 2 (both answers lost)", d.Pending())
	}
	p.muted.Store(false)
	p.dropAll()

	r := <-rejected
	if r.Code != protocol.CodeFailedPrecondition || r.ReqID == id2 || r.ReqID == id1 {
		t.Fatalf("rejection %+v: want FAILED_PRECONDITION under a new id (not %s)", r, id2)
	}
	converged(t, ev, "doc", d)
	n := 0
	for _, op := range ev.ops("doc") {
		if op.ClientReqID == id1 {
			n++
		}
		if op.ClientReqID == id2 || op.ClientReqID == r.ReqID {
			t.Fatalf("the refused edit committed as %d", op.Rev)
		}
	}
	if n != 1 {
		t.Fatalf("the first edit is in the log %d times", n)
	}
	var v struct{ X, A int }
	if err := d.Get(&v); err != nil || v.X != 5 || v.A != 1 {
		t.Fatalf("view %+v, %v", v, err)
	}
}

// TestResumeAfterSnapshot loses the echo of two committed edits and makes
// the resume answer a snapshot (the document is small, so the snapshot is
// the smaller answer): which edits committed cannot be told (PROTOCOL.md
// §6.8 step 4). By default the merge patch is re-issued (setting the same
// value twice is harmless) and the JSON Patch is dropped and reported.
func TestResumeAfterSnapshot(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	p := newProxy(t, ev.addr)
	rejected := make(chan client.Rejection, 10)
	c := dial(t, p.url, func(o *client.Options) { o.OnReject = func(r client.Rejection) { rejected <- r } })
	d := join(t, c, "small")
	p.muted.Store(true)
	idMerge, _ := d.Merge(`{"m":1}`)
	idPatch, err := d.Patch(`[{"op":"add","path":"/p","value":1}]`)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitTimeout)
	for ev.snapshot("small").Rev < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the edits never committed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.muted.Store(false)
	p.dropAll()
	r := <-rejected
	if r.Code != client.CodeOutcomeUnknown || r.ReqID != idPatch {
		t.Fatalf("rejection %+v, want %s for %s", r, client.CodeOutcomeUnknown, idPatch)
	}
	converged(t, ev, "small", d)
	var merges int
	for _, op := range ev.ops("small") {
		if string(op.Payload) == `{"m":1}` {
			merges++
		}
	}
	if merges != 2 {
		t.Fatalf("merge patch %s in the log %d times, want 2 (re-issued after the snapshot)", idMerge, merges)
	}
	var v struct{ M, P int }
	if err := d.Get(&v); err != nil || v.M != 1 || v.P != 1 {
		t.Fatalf("view %+v, %v", v, err)
	}
}

// TestNewEpoch: a joined document deleted on the server starts a new
// history; the client follows it and goes on editing.
func TestNewEpoch(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	c := dial(t, ev.url, nil)
	d := join(t, c, "doc")
	d.Merge(`{"a":1}`)
	converged(t, ev, "doc", d)
	old := d.Epoch()
	if err := ev.engine.Delete(ctxT(t), "doc"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitTimeout)
	for d.Epoch() == old {
		if time.Now().After(deadline) {
			t.Fatal("the client never saw the new epoch")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if v := d.View().(map[string]any); len(v) != 0 || d.Rev() != 0 {
		t.Fatalf("after the delete: %v at %d", v, d.Rev())
	}
	d.Merge(`{"b":2}`)
	converged(t, ev, "doc", d)
}
