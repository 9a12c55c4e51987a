package syncd_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/memstore"
)

// openHeld opens an engine over a memstore whose next commit after arming
// waits for the gate (heldStore, duplicate_test.go).
func openHeld(t *testing.T) (*syncd.Engine, *heldStore) {
	t.Helper()
	st := memstore.New(memstore.Options{})
	hs := &heldStore{Store: st, armed: make(chan struct{}), entered: make(chan struct{}), gate: make(chan struct{})}
	e, err := syncd.Open(hs, syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close()
		st.Close()
	})
	return e, hs
}

// waitUntil polls cond for up to 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// commitWithin commits with a short deadline, so that a commit that would
// wait forever fails the test instead of hanging it.
func commitWithin(t *testing.T, e *syncd.Engine, doc string, ed syncd.Edit) (*syncd.Op, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return e.Commit(ctx, doc, ed)
}

// A document deleted (without subscribers) while one of its edits waits
// for its fsync must be writable again once both are durable: the edit of
// the old epoch must not leave the new epoch's durable revision at its own
// (head 0, durable 2), which makes the next edit wait for "room in the
// ring" forever (head − durable underflows).
func TestDeleteWhileAnEditIsInFlightLeavesTheDocumentWritable(t *testing.T) {
	e, hs := openHeld(t)
	mustCommit(t, e, "d", merge(`{"a":1}`))

	close(hs.armed)
	edited := make(chan error, 1)
	e.CommitAsync(ctxT(t), "d", merge(`{"a":2}`), func(_ *syncd.Op, err error) { edited <- err })
	<-hs.entered // rev 2 is being written

	deleted := make(chan error, 1)
	go func() { deleted <- e.Delete(ctxT(t), "d") }()
	// The deletion is in memory (the document is absent) before rev 2 is durable.
	waitUntil(t, "the deletion in memory", func() bool { _, ok := e.Head("d"); return !ok })
	close(hs.gate)
	if err := <-edited; err != nil {
		t.Fatalf("edit in flight: %v", err)
	}
	if err := <-deleted; err != nil {
		t.Fatalf("delete: %v", err)
	}

	op, err := commitWithin(t, e, "d", merge(`{"again":1}`))
	if err != nil {
		t.Fatalf("first edit after the deletion: %v", err)
	}
	if op.Rev != 1 {
		t.Fatalf("first edit after the deletion got rev %d, want 1", op.Rev)
	}
}

// The same with a subscriber, when the edit in flight and the deletion are
// written in one batch: the reset must bring the durable revision back to
// the new epoch's 0, not to the old epoch's last operation.
func TestDeleteInTheBatchOfAnEditKeepsTheNewEpochsHead(t *testing.T) {
	e, hs := openHeld(t)
	mustCommit(t, e, "d", merge(`{"a":1}`))
	rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{})
	old, _ := e.Head("d")

	// Hold the committer on another document, so that d's edit and its
	// deletion are queued behind it and written together.
	close(hs.armed)
	other := make(chan error, 1)
	e.CommitAsync(ctxT(t), "x", merge(`{"x":1}`), func(_ *syncd.Op, err error) { other <- err })
	<-hs.entered
	edited := make(chan error, 1)
	e.CommitAsync(ctxT(t), "d", merge(`{"a":2}`), func(_ *syncd.Op, err error) { edited <- err })
	deleted := make(chan error, 1)
	go func() { deleted <- e.Delete(ctxT(t), "d") }()
	waitUntil(t, "the deletion in memory", func() bool { pos, _ := e.Head("d"); return pos.Epoch != old.Epoch })
	close(hs.gate)
	for _, ch := range []chan error{other, edited, deleted} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	rec.waitFor(t, "reset", func(evs []*syncd.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Kind == syncd.EventSnapshot && evs[len(evs)-1].Epoch != old.Epoch
	})
	if pos, ok := e.Head("d"); !ok || pos.Rev != 0 {
		t.Errorf("head after the deletion: %+v %v, want revision 0 of the new epoch", pos, ok)
	}
	op, err := commitWithin(t, e, "d", merge(`{"again":1}`))
	if err != nil {
		t.Fatalf("first edit after the deletion: %v", err)
	}
	if op.Rev != 1 {
		t.Fatalf("first edit after the deletion got rev %d, want 1", op.Rev)
	}
}

// A subscriber joining a document deleted (without subscribers) while an
// edit of the old epoch is still queued, then an edit of the new epoch
// written in the same batch: the subscriber must never get the old
// epoch's operation, nor the two epochs' operations in one event.
func TestJoinAfterDeleteWithOldEditInTheSameBatch(t *testing.T) {
	e, hs := openHeld(t)
	mustCommit(t, e, "d", merge(`{"a":1}`))

	close(hs.armed)
	other := make(chan error, 1)
	e.CommitAsync(ctxT(t), "x", merge(`{"x":1}`), func(_ *syncd.Op, err error) { other <- err })
	<-hs.entered

	edited := make(chan error, 1)
	e.CommitAsync(ctxT(t), "d", merge(`{"a":2}`), func(_ *syncd.Op, err error) { edited <- err })
	deleted := make(chan error, 1)
	go func() { deleted <- e.Delete(ctxT(t), "d") }()
	waitUntil(t, "the deletion in memory", func() bool { _, ok := e.Head("d"); return !ok })

	rec := newRecorder()
	joined := make(chan error, 1)
	var sub *syncd.Subscription
	go func() {
		var err error
		sub, err = e.Subscribe(ctxT(t), "d", syncd.SubscribeRequest{}, rec.sink)
		joined <- err
	}()
	// The join re-created the document and planned its catch-up (it now
	// waits for the writes before it).
	waitUntil(t, "the join's re-creation", func() bool { _, ok := e.Head("d"); return ok })
	fresh := make(chan error, 1)
	e.CommitAsync(ctxT(t), "d", syncd.Edit{Patch: json.RawMessage(`{"b":1}`)}, func(_ *syncd.Op, err error) { fresh <- err })

	close(hs.gate)
	for _, ch := range []chan error{other, edited, deleted, fresh, joined} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	defer sub.Close()
	evs := rec.waitFor(t, "the new epoch's rev 1", func(evs []*syncd.Event) bool {
		for _, ev := range evs {
			if ev.Kind == syncd.EventDeltas && ev.ToRev >= 1 || ev.Kind == syncd.EventSnapshot && ev.Rev >= 1 {
				return true
			}
		}
		return false
	})
	for _, ev := range evs {
		t.Logf("event %v epoch %s from %d to %d rev %d ops %d", ev.Kind, ev.Epoch, ev.FromRev, ev.ToRev, ev.Rev, len(ev.Ops))
	}
	rp := &replica{t: t}
	rp.apply(evs)
	snap, err := e.State(ctxT(t), "d")
	if err != nil {
		t.Fatal(err)
	}
	if rp.epoch != snap.Epoch || rp.rev != snap.Rev || encode(t, rp.state) != string(snap.State) {
		t.Fatalf("subscriber at %s@%d %s, document %s@%d %s", rp.epoch, rp.rev, encode(t, rp.state), snap.Epoch, snap.Rev, snap.State)
	}
}
