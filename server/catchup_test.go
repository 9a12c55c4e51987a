package server_test

import (
	"bytes"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// Catch-up on JOIN: deltas from the ring, deltas from the store, a gap and
// a snapshot, an epoch mismatch, a client already at the head, and joining
// a document the connection has joined already. Documents are padded so
// that deltas are smaller than the document (a larger catch-up is rightly
// answered with a snapshot, reason "smaller"; TestCatchUpSmallerSnapshot).

// applyOps applies a catch-up to a client's state, as a client does, and
// returns the canonical encoding of the result.
func applyOps(t *testing.T, state []byte, from revision.Rev, ops []protocol.Operation) []byte {
	t.Helper()
	doc, err := delta.Decode(state)
	if err != nil {
		t.Fatal(err)
	}
	for i, op := range ops {
		// A combined operation of a compacted catch-up covers
		// firstRev … rev.
		if op.First() != from+1 || op.Rev < op.First() {
			t.Fatalf("operation %d covers %d..%d, want %d.. (contiguous)", i, op.First(), op.Rev, from+1)
		}
		from = op.Rev
		var p *delta.Patch
		var err error
		if op.Type == protocol.OpMerge {
			p, err = delta.ParseMergePatch(op.Payload)
		} else {
			p, err = delta.ParseJSONPatch(op.Payload)
		}
		if err != nil {
			t.Fatalf("op %d: %v", op.Rev, err)
		}
		if _, err := p.Apply(&doc); err != nil {
			t.Fatalf("op %d: %v", op.Rev, err)
		}
	}
	b, err := delta.Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// canonical re-encodes a JSON document canonically.
func canonical(t *testing.T, state []byte) []byte {
	t.Helper()
	return applyOps(t, state, 0, nil)
}

// converged fails unless state equals the server's document.
func (ev *env) converged(t *testing.T, doc string, state []byte) {
	t.Helper()
	want := canonical(t, ev.snapshot(doc).State)
	if got := canonical(t, state); !bytes.Equal(got, want) {
		t.Fatalf("client state differs from the server's:\n got %.200s\nwant %.200s", got, want)
	}
}

func TestCatchUpFromRing(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "catchup/ring"
	ev.pad(doc, 16<<10)
	a := ev.dial("")
	snap := a.join(doc)
	a.ws.Close() // gone without a word

	b := ev.dial("")
	b.join(doc)
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, b.edit(doc, map[string]any{"item": i}).ClientReqID)
	}

	before := ev.engine.Stats().CatchUps
	a2 := ev.dial("")
	ans := a2.joinAt(doc, revision.Position{Epoch: snap.Epoch, Rev: snap.Rev})
	if ans.deltas == nil {
		t.Fatalf("want SYNC.DELTAS, got %+v %+v", ans.gap, ans.snap)
	}
	d := ans.deltas
	if d.Epoch != snap.Epoch || d.FromRev != snap.Rev || d.ToRev != snap.Rev+5 || len(d.Operations) != 5 {
		t.Fatalf("deltas %d..%d with %d ops", d.FromRev, d.ToRev, len(d.Operations))
	}
	for i, op := range d.Operations {
		if op.ClientID != b.author || op.ClientReqID != ids[i] || op.Type != protocol.OpMerge || op.Ts == 0 {
			t.Fatalf("op %d: %+v", i, op)
		}
	}
	ev.converged(t, doc, applyOps(t, snap.State, snap.Rev, d.Operations))
	if after := ev.engine.Stats().CatchUps; after["ring"] != before["ring"]+1 || after["store"] != before["store"] {
		t.Fatalf("catch-ups %v → %v: want one from the ring", before, after)
	}
	// Live operations follow the catch-up, never empty.
	op := b.edit(doc, map[string]any{"item": "live"})
	if got, dd := a2.ackFrom(b.id, op.ClientReqID); got.Rev != d.ToRev+1 || dd.FromRev != d.ToRev {
		t.Fatalf("live delta %+v after catch-up to %d", dd, d.ToRev)
	}
}

func TestCatchUpFromStore(t *testing.T) {
	// Default retention (100,000 operations), ring of 1,024: a client
	// 1,050 operations behind gets the older ones from the store.
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "catchup/store"
	ev.pad(doc, 400<<10)
	a := ev.dial("")
	snap := a.join(doc)
	a.ws.Close()

	head := ev.commitN(doc, 1050)
	before := ev.engine.Stats().CatchUps
	a2 := ev.dial("")
	ans := a2.joinAt(doc, revision.Position{Epoch: snap.Epoch, Rev: snap.Rev})
	if ans.deltas == nil {
		t.Fatalf("want SYNC.DELTAS, got gap %+v", ans.gap)
	}
	d := ans.deltas
	if d.FromRev != snap.Rev || d.ToRev != head || len(d.Operations) != 1050 {
		t.Fatalf("deltas %d..%d with %d ops, want %d..%d with 1050", d.FromRev, d.ToRev, len(d.Operations), snap.Rev, head)
	}
	ev.converged(t, doc, applyOps(t, snap.State, snap.Rev, d.Operations))
	if after := ev.engine.Stats().CatchUps; after["store"] != before["store"]+1 {
		t.Fatalf("catch-ups %v → %v: want one from the store", before, after)
	}
	a2.alive()
}

func TestCatchUpGapRetention(t *testing.T) {
	// Retention equal to the ring: the store no longer holds what the
	// client missed, so it gets REVISION_GAP (retention) then the snapshot.
	st := memstore.New(memstore.Options{Retention: 1024})
	ev := newEnvStore(t, st, syncd.Options{RingSize: 1024}, server.Options{})
	const doc = "catchup/gap"
	ev.pad(doc, 200<<10)
	a := ev.dial("")
	snap := a.join(doc)
	a.ws.Close()

	head := ev.commitN(doc, 1200)
	a2 := ev.dial("")
	ans := a2.joinAt(doc, revision.Position{Epoch: snap.Epoch, Rev: snap.Rev})
	if ans.gap == nil || ans.snap == nil {
		t.Fatalf("want REVISION_GAP and SYNC.SNAPSHOT, got deltas %+v", ans.deltas)
	}
	g := ans.gap
	if g.Doc != doc || g.Reason != protocol.GapRetention || g.ExpectedRev != snap.Rev || g.ServerRev != head || g.ResumeFrom != head ||
		g.BufferFirstRev <= snap.Rev+1 || g.BufferFirstRev > head {
		t.Fatalf("gap %+v (head %d)", g, head)
	}
	if ans.snap.Rev != g.ResumeFrom || ans.snap.Epoch != snap.Epoch {
		t.Fatalf("snapshot at %s@%d after gap %+v", ans.snap.Epoch, ans.snap.Rev, g)
	}
	ev.converged(t, doc, ans.snap.State)
	a2.alive()
}

func TestCatchUpSmallerSnapshot(t *testing.T) {
	// Deltas larger than the document: the snapshot is sent instead,
	// after a gap of reason "smaller".
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "catchup/smaller"
	a := ev.dial("")
	snap := a.join(doc)
	a.ws.Close()
	for i := 0; i < 20; i++ {
		ev.commit(doc, map[string]any{"k": i}) // the same key, over and over
	}
	a2 := ev.dial("")
	ans := a2.joinAt(doc, revision.Position{Epoch: snap.Epoch, Rev: snap.Rev})
	if ans.gap == nil || ans.gap.Reason != protocol.GapSmaller || ans.snap == nil || ans.snap.Rev != 20 {
		t.Fatalf("answer gap %+v snap %+v deltas %+v", ans.gap, ans.snap, ans.deltas)
	}
	ev.converged(t, doc, ans.snap.State)
}

func TestCatchUpEpochMismatch(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "catchup/epoch"
	ev.pad(doc, 4<<10)
	ev.commitN(doc, 3)
	cur := ev.snapshot(doc)
	c := ev.dial("")

	// Another history's epoch.
	other := revision.Epoch(newClientID())
	ans := c.joinAt(doc, revision.Position{Epoch: other, Rev: 2})
	if ans.gap == nil || ans.gap.Reason != protocol.GapEpoch || ans.gap.ExpectedRev != 2 || ans.gap.ServerRev != cur.Rev ||
		ans.snap == nil || ans.snap.Epoch != cur.Epoch || ans.snap.Rev != cur.Rev {
		t.Fatalf("wrong epoch: gap %+v snap %+v", ans.gap, ans.snap)
	}
	// A revision without an epoch cannot be trusted either.
	ans = c.joinWith(map[string]any{"doc": doc, "rev": 2}, "")
	if ans.gap == nil || ans.gap.Reason != protocol.GapEpoch || ans.snap == nil || ans.snap.Rev != cur.Rev {
		t.Fatalf("no epoch: gap %+v snap %+v", ans.gap, ans.snap)
	}
	// The right epoch but a revision ahead of the head.
	ans = c.joinAt(doc, revision.Position{Epoch: cur.Epoch, Rev: cur.Rev + 10})
	if ans.gap == nil || ans.snap == nil || ans.snap.Rev != cur.Rev {
		t.Fatalf("ahead of the head: gap %+v snap %+v", ans.gap, ans.snap)
	}
	// An edit under another epoch is refused (ABORTED), with details.
	id := c.nextReq()
	c.update(doc, map[string]any{"x": 1}, id, map[string]any{"epoch": other})
	p := c.expectError(protocol.CodeAborted)
	if d := updateDetails(t, p, doc, id); d.ServerRev != cur.Rev {
		t.Fatalf("details %+v", d)
	}
	ev.sameSnapshot(doc, cur)
}

func TestCatchUpAtHead(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "catchup/head"
	c := ev.dial("")
	snap := c.join(doc)
	op := c.edit(doc, map[string]any{"a": 1})
	c.ws.Close()

	c2 := ev.dialID(c.id)
	ans := c2.joinAt(doc, revision.Position{Epoch: snap.Epoch, Rev: op.Rev})
	d := ans.deltas
	if d == nil || d.FromRev != op.Rev || d.ToRev != op.Rev || d.Operations == nil || len(d.Operations) != 0 || d.AckedReqID != op.ClientReqID {
		t.Fatalf("at the head: %+v %+v", d, ans.snap)
	}
	// A new document at revision 0, joined with its own epoch: empty too.
	e := ev.dial("")
	s0 := e.join("catchup/empty")
	ans = e.joinAt("catchup/empty", revision.Position{Epoch: s0.Epoch, Rev: 0})
	if ans.deltas == nil || ans.deltas.FromRev != 0 || ans.deltas.ToRev != 0 || len(ans.deltas.Operations) != 0 || ans.deltas.AckedReqID != "" {
		t.Fatalf("empty document at the head: %+v", ans)
	}
	c2.quiet() // and no live SYNC.DELTAS is ever empty
}

func TestRejoinJoinedDoc(t *testing.T) {
	// JOIN of a document the connection has joined already starts over
	// from the client's position: one answer, and no live operation twice.
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "catchup/rejoin"
	ev.pad(doc, 4<<10)
	c := ev.dial("")
	snap := c.join(doc)
	first := c.edit(doc, map[string]any{"a": 1})

	ans := c.joinAt(doc, revision.Position{Epoch: snap.Epoch, Rev: snap.Rev})
	if ans.deltas == nil || len(ans.deltas.Operations) != 1 || ans.deltas.Operations[0].Rev != first.Rev || ans.deltas.AckedReqID != first.ClientReqID {
		t.Fatalf("rejoin answer %+v", ans.deltas)
	}
	ans = c.joinAt(doc, revision.Position{Epoch: snap.Epoch, Rev: first.Rev})
	if ans.deltas == nil || len(ans.deltas.Operations) != 0 {
		t.Fatalf("rejoin at head %+v", ans.deltas)
	}
	// After joining three times, one edit arrives once.
	b := ev.dial("")
	b.join(doc)
	op := b.edit(doc, map[string]any{"b": 2})
	if got, _ := c.ackFrom(b.id, op.ClientReqID); got.Rev != first.Rev+1 {
		t.Fatalf("live op %+v", got)
	}
	c.quiet()
	// A plain JOIN again: a snapshot; the connection still counts one
	// document (LEAVE once leaves it).
	if s := c.join(doc); s.Rev != op.Rev {
		t.Fatalf("snapshot %+v", s)
	}
	c.rpcOK(protocol.TypeLeave, map[string]any{"doc": doc})
	c.sendMeta(protocol.TypeLeave, "again", map[string]any{"doc": doc})
	c.expectRPCError("again", protocol.CodeFailedPrecondition)
	b.edit(doc, map[string]any{"c": 3})
	c.quiet() // left: no more deltas
}
