package client_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// TestResumeSettlesLostOutcomes loses the server's answers to two edits:
// one committed (its echo lost), one refused (its ERROR lost). After the
// reconnect, the JOIN answer's deltas show the first committed (it is not
// sent again); the second is at or below ackedReqId and the answer's
// outcomes say it was refused FAILED_PRECONDITION, so it is rolled back and
// reported under its own id, without being sent again (PROTOCOL.md §6.8).
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
	if r.Code != protocol.CodeFailedPrecondition || r.ReqID != id2 {
		t.Fatalf("rejection %+v: want FAILED_PRECONDITION for %s", r, id2)
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

// TestResumeSeesOwnOperations: edits whose echoes were lost are settled by
// the JOIN answer after the reconnect. The server sends the missed
// operations as deltas, although a snapshot of this small document is
// smaller, because they include the client's own: the client sees that
// both edits committed, and nothing is re-issued.
func TestResumeSeesOwnOperations(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	p := newProxy(t, ev.addr)
	rejected := make(chan client.Rejection, 10)
	c := dial(t, p.url, func(o *client.Options) { o.OnReject = func(r client.Rejection) { rejected <- r } })
	d := join(t, c, "small")
	p.muted.Store(true)
	d.Merge(`{"m":1}`)
	if _, err := d.Patch(`[{"op":"add","path":"/p","value":1}]`); err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, ev, "small", 2)
	p.muted.Store(false)
	p.dropAll()
	converged(t, ev, "small", d)
	select {
	case r := <-rejected:
		t.Fatalf("unexpected rejection %+v", r)
	default:
	}
	if n := countPayload(ev, "small", `{"m":1}`); n != 1 {
		t.Fatalf("merge patch in the log %d times, want once", n)
	}
	var v struct{ M, P int }
	if err := d.Get(&v); err != nil || v.M != 1 || v.P != 1 {
		t.Fatalf("view %+v, %v", v, err)
	}
}

// TestResumeAfterSnapshot: when the missed operations are gone (retention),
// the JOIN answer is a snapshot, which cannot show whether the edits whose
// echoes were lost committed; its outcomes say they did, at which
// revisions. The client acknowledges both (ChangeAck), re-issues nothing
// and reports nothing.
func TestResumeAfterSnapshot(t *testing.T) {
	ev := newEnvStore(t, memstore.New(memstore.Options{Retention: 2}), syncd.Options{RingSize: 2, SnapshotInterval: 2}, server.Options{})
	p := newProxy(t, ev.addr)
	rejected := make(chan client.Rejection, 10)
	c := dial(t, p.url, func(o *client.Options) { o.OnReject = func(r client.Rejection) { rejected <- r } })
	d := join(t, c, "small")
	acks := make(chan client.Change, 10)
	d.OnChange(func(ch client.Change) {
		if ch.Kind == client.ChangeAck {
			acks <- ch
		}
	})
	p.muted.Store(true)
	idMerge, _ := d.Merge(`{"m":1}`)
	idPatch, err := d.Patch(`[{"op":"add","path":"/p","value":1}]`)
	if err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, ev, "small", 2)
	// Others push the client's operations out of the ring and the log.
	for i := 0; i < 8; i++ {
		if _, err := ev.engine.Commit(ctxT(t), "small", syncd.Edit{Patch: []byte(fmt.Sprintf(`{"o":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	p.muted.Store(false)
	p.dropAll()
	for _, want := range []struct {
		id  string
		rev revision.Rev
	}{{idMerge, 1}, {idPatch, 2}} {
		select {
		case ch := <-acks:
			if ch.ReqID != want.id || ch.Rev != want.rev || !ch.Local {
				t.Fatalf("ack %+v, want %s at %d", ch, want.id, want.rev)
			}
		case r := <-rejected:
			t.Fatalf("rejection %+v: the outcomes said both committed", r)
		case <-time.After(waitTimeout):
			t.Fatalf("no acknowledgement of %s", want.id)
		}
	}
	converged(t, ev, "small", d)
	for _, op := range ev.ops("small") {
		if op.ClientID != "" {
			t.Fatalf("an edit was sent again: %+v", op)
		}
	}
	var v struct{ M, P int }
	if err := d.Get(&v); err != nil || v.M != 1 || v.P != 1 {
		t.Fatalf("view %+v, %v", v, err)
	}
	select {
	case r := <-rejected:
		t.Fatalf("rejection %+v", r)
	default:
	}
}

func waitCommitted(t *testing.T, ev *env, doc string, rev revision.Rev) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for ev.snapshot(doc).Rev < rev {
		if time.Now().After(deadline) {
			t.Fatal("the edits never committed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countPayload counts the operations of doc, from the start of its
// retained log, whose payload is payload.
func countPayload(ev *env, doc, payload string) int {
	n := 0
	for _, op := range ev.ops(doc) {
		if string(op.Payload) == payload {
			n++
		}
	}
	return n
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
