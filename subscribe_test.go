package syncd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/memstore"
)

func fill(t *testing.T, e *syncd.Engine, doc string, n int) revision.Epoch {
	t.Helper()
	// The first operation pads the document, so that a snapshot is larger
	// than a few dozen deltas and catch-up prefers deltas.
	mustCommit(t, e, doc, merge(`{"pad":"`+strings.Repeat("p", 8000)+`"}`))
	for i := 1; i < n; i++ {
		mustCommit(t, e, doc, merge(fmt.Sprintf(`{"k%d":%d}`, i%50, i)))
	}
	snap, err := e.State(ctxT(t), doc)
	if err != nil {
		t.Fatal(err)
	}
	return snap.Epoch
}

func subscribe(t *testing.T, e *syncd.Engine, doc string, req syncd.SubscribeRequest) (*recorder, *syncd.Subscription) {
	t.Helper()
	rec := newRecorder()
	sub, err := e.Subscribe(ctxT(t), doc, req, rec.sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return rec, sub
}

// catchUp returns the catch-up events (up to CatchUpDone) of a recorder.
func catchUp(t *testing.T, rec *recorder) []*syncd.Event {
	t.Helper()
	evs := rec.snapshot()
	for i, ev := range evs {
		if ev.CatchUpDone {
			return evs[:i+1]
		}
	}
	t.Fatalf("no catch-up among %d events", len(evs))
	return nil
}

func TestSubscribeCatchUpKinds(t *testing.T) {
	e, _ := open(t, syncd.Options{RingSize: 16, CatchUpPage: 4})
	epoch := fill(t, e, "d", 40)

	t.Run("snapshot when nothing is known", func(t *testing.T) {
		rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{})
		evs := catchUp(t, rec)
		if len(evs) != 1 || evs[0].Kind != syncd.EventSnapshot || evs[0].Gap != nil || evs[0].Rev != 40 {
			t.Fatalf("got %+v", evs[0])
		}
	})
	t.Run("empty deltas at the head", func(t *testing.T) {
		rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{Have: revision.Position{Epoch: epoch, Rev: 40}})
		evs := catchUp(t, rec)
		if len(evs) != 1 || evs[0].Kind != syncd.EventDeltas || evs[0].FromRev != 40 || evs[0].ToRev != 40 || len(evs[0].Ops) != 0 {
			t.Fatalf("got %+v", evs[0])
		}
	})
	t.Run("deltas from the ring, whole", func(t *testing.T) {
		rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{Have: revision.Position{Epoch: epoch, Rev: 30}})
		evs := catchUp(t, rec)
		// 10 ops, more than a page of 4: the catch-up is still one event.
		if len(evs) != 1 || len(evs[0].Ops) != 10 || evs[0].FromRev != 30 || evs[0].ToRev != 40 {
			t.Fatalf("%d events, first %+v", len(evs), evs[0])
		}
		rp := &replica{t: t, epoch: epoch, rev: 30, state: map[string]any{}}
		rp.apply(evs)
		if rp.rev != 40 {
			t.Fatalf("replica at %d", rp.rev)
		}
	})
	t.Run("deltas from the store", func(t *testing.T) {
		rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{Have: revision.Position{Epoch: epoch, Rev: 15}})
		evs := catchUp(t, rec)
		if len(evs) != 1 { // read from the store in pages of 4, delivered whole
			t.Fatalf("%d events", len(evs))
		}
		rp := &replica{t: t, epoch: epoch, rev: 15, state: map[string]any{}}
		rp.apply(evs)
		if rp.rev != 40 || len(rp.ops) != 25 {
			t.Fatalf("replica at %d with %d ops", rp.rev, len(rp.ops))
		}
		if e.Stats().CatchUps["store"] == 0 {
			t.Fatal("store catch-up not counted")
		}
	})
	t.Run("snapshot when smaller", func(t *testing.T) {
		rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{Have: revision.Position{Epoch: epoch, Rev: 0}})
		evs := catchUp(t, rec)
		ev := evs[0]
		if ev.Kind != syncd.EventSnapshot || ev.Gap == nil || ev.Gap.Reason != syncd.GapSmaller || ev.Gap.ServerRev != 40 || ev.Gap.ResumeFrom != 40 || ev.Gap.ExpectedRev != 0 {
			t.Fatalf("got %+v gap %+v", ev, ev.Gap)
		}
	})
	t.Run("snapshot after an epoch mismatch", func(t *testing.T) {
		rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{Have: revision.Position{Epoch: "01ARZ3NDEKTSV4RRFFQ69G5FAV", Rev: 39}})
		ev := catchUp(t, rec)[0]
		if ev.Kind != syncd.EventSnapshot || ev.Gap == nil || ev.Gap.Reason != syncd.GapEpoch {
			t.Fatalf("got %+v", ev)
		}
	})
	t.Run("snapshot for a revision ahead of the head", func(t *testing.T) {
		rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{Have: revision.Position{Epoch: epoch, Rev: 41}})
		ev := catchUp(t, rec)[0]
		if ev.Kind != syncd.EventSnapshot || ev.Gap == nil || ev.Gap.Reason != syncd.GapEpoch {
			t.Fatalf("got %+v", ev)
		}
	})
}

func TestSubscribeRetentionGap(t *testing.T) {
	st := memstore.New(memstore.Options{Retention: 10})
	e, err := syncd.Open(st, syncd.Options{RingSize: 8, SnapshotInterval: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer e.Close()
	epoch := fill(t, e, "d", 60)
	// Large values so that deltas are never smaller-than-snapshot's loser.
	rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{Have: revision.Position{Epoch: epoch, Rev: 2}})
	ev := catchUp(t, rec)[0]
	if ev.Kind != syncd.EventSnapshot || ev.Gap == nil {
		t.Fatalf("got %+v", ev)
	}
	if ev.Gap.Reason != syncd.GapRetention && ev.Gap.Reason != syncd.GapSmaller {
		t.Fatalf("reason %s", ev.Gap.Reason)
	}
	if ev.Gap.BufferFirstRev != 53 || ev.Gap.ServerRev != 60 {
		t.Fatalf("gap %+v", ev.Gap)
	}
	_, err = e.ReadOps(ctxT(t), "d", 2, 10)
	wantCode(t, err, syncd.CodeGone)
}

func TestCatchUpCarriesTheWatermark(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	mustCommit(t, e, "d", syncd.Edit{ClientID: "alice", ReqID: "0005", Patch: json.RawMessage(`{"a":1}`)})
	_, err := e.Commit(ctxT(t), "d", syncd.Edit{ClientID: "alice", ReqID: "0007", Patch: json.RawMessage(`[{"op":"remove","path":"/zz"}]`)})
	wantCode(t, err, syncd.CodePrecondition)
	rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{ClientID: "alice"})
	if ev := catchUp(t, rec)[0]; ev.AckedReqID != "0007" {
		t.Fatalf("acked %q, want the refused 0007", ev.AckedReqID)
	}
	rec, _ = subscribe(t, e, "d", syncd.SubscribeRequest{ClientID: "bob"})
	if ev := catchUp(t, rec)[0]; ev.AckedReqID != "" {
		t.Fatalf("bob acked %q", ev.AckedReqID)
	}
}

// TestSubscribeWhileCommitting joins subscribers at random moments of a
// stream of commits: each must see a contiguous history from its catch-up
// to the end, and converge to the final state.
func TestSubscribeWhileCommitting(t *testing.T) {
	e, _ := open(t, syncd.Options{RingSize: 32, CatchUpPage: 8})
	const writers, each = 4, 100
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := e.Commit(context.Background(), "d", merge(fmt.Sprintf(`{"w%d":%d}`, w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var recs []*recorder
	var haves []revision.Position
	for i := 0; i < 10; i++ {
		var have revision.Position
		if i%2 == 1 {
			if snap, err := e.State(ctxT(t), "d"); err == nil {
				have = revision.Position{Epoch: snap.Epoch, Rev: snap.Rev / 2}
			}
		}
		rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{Have: have})
		recs = append(recs, rec)
		haves = append(haves, have)
	}
	wg.Wait()
	final, err := e.State(ctxT(t), "d")
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		evs := rec.waitFor(t, "the last revision", func(evs []*syncd.Event) bool {
			for _, ev := range evs {
				if ev.Kind == syncd.EventDeltas && ev.ToRev == final.Rev || ev.Kind == syncd.EventSnapshot && ev.Rev == final.Rev {
					return true
				}
			}
			return false
		})
		// Order check: revisions strictly increase and never skip.
		var last revision.Rev
		started := false
		for _, ev := range evs {
			switch ev.Kind {
			case syncd.EventSnapshot:
				last, started = ev.Rev, true
			case syncd.EventDeltas:
				if started && ev.FromRev != last {
					t.Fatalf("subscriber %d: deltas from %d after %d", i, ev.FromRev, last)
				}
				for _, op := range ev.Ops {
					if started && op.Rev != last+1 {
						t.Fatalf("subscriber %d: op %d after %d", i, op.Rev, last)
					}
					last = op.Rev
				}
				last, started = ev.ToRev, true
			}
		}
		if last != final.Rev {
			t.Fatalf("subscriber %d ends at %d, head %d", i, last, final.Rev)
		}
		if !haves[i].Known() {
			rp := &replica{t: t}
			rp.apply(evs)
			if got := encode(t, rp.state); got != string(final.State) {
				t.Fatalf("subscriber %d converged to %s, want %s", i, got, final.State)
			}
		}
	}
}

func TestDeleteStartsANewEpochForSubscribers(t *testing.T) {
	e, st := open(t, syncd.Options{})
	epoch := fill(t, e, "d", 3)
	rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{Have: revision.Position{Epoch: epoch, Rev: 3}})
	if err := e.Delete(ctxT(t), "d"); err != nil {
		t.Fatal(err)
	}
	evs := rec.waitFor(t, "reset", func(evs []*syncd.Event) bool { return evs[len(evs)-1].Kind == syncd.EventSnapshot })
	ev := evs[len(evs)-1]
	if ev.Epoch == epoch || ev.Rev != 0 || string(ev.State) != "{}" || ev.Gap == nil || ev.Gap.Reason != syncd.GapEpoch {
		t.Fatalf("reset %+v", ev)
	}
	op := mustCommit(t, e, "d", merge(`{"fresh":true}`))
	if op.Rev != 1 {
		t.Fatalf("first op of the new epoch has rev %d", op.Rev)
	}
	evs = rec.waitFor(t, "new op", func(evs []*syncd.Event) bool { return evs[len(evs)-1].Kind == syncd.EventDeltas })
	if last := evs[len(evs)-1]; last.Epoch != ev.Epoch || last.ToRev != 1 {
		t.Fatalf("delta after reset %+v", last)
	}
	sd, err := st.Load(ctxT(t), "d")
	if err != nil || sd.Meta.Epoch != ev.Epoch || sd.Meta.Head != 1 {
		t.Fatalf("stored %+v %v", sd, err)
	}
}

func TestDeleteWithoutSubscribers(t *testing.T) {
	e, st := open(t, syncd.Options{})
	epoch := fill(t, e, "d", 3)
	if err := e.Delete(ctxT(t), "d"); err != nil {
		t.Fatal(err)
	}
	_, err := e.State(ctxT(t), "d")
	wantCode(t, err, syncd.CodeNotFound)
	wantCode(t, e.Delete(ctxT(t), "d"), syncd.CodeNotFound)
	if _, err := st.Load(ctxT(t), "d"); !errors.Is(err, syncd.ErrNotFound) {
		t.Fatalf("store still has it: %v", err)
	}
	mustCommit(t, e, "d", merge(`{"again":1}`))
	snap, _ := e.State(ctxT(t), "d")
	if snap.Epoch == epoch || snap.Rev != 1 || string(snap.State) != `{"again":1}` {
		t.Fatalf("re-created %+v", snap)
	}
}

func TestPresence(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{})
	if err := e.SetPresence(ctxT(t), "d", "alice", json.RawMessage(`{"name": "Alice"}`)); err != nil {
		t.Fatal(err)
	}
	e.SetPresence(ctxT(t), "d", "alice", json.RawMessage(`{"name":"Alice"}`)) // unchanged: no event
	e.SetPresence(ctxT(t), "d", "bob", json.RawMessage(`{"name":"Bob"}`))
	e.ClearPresence("d", "alice")
	e.ClearPresence("d", "nobody")
	evs := rec.snapshot()
	var pres []*syncd.Event
	for _, ev := range evs {
		if ev.Kind == syncd.EventPresence {
			pres = append(pres, ev)
		}
	}
	if len(pres) != 4 || !pres[0].Full || len(pres[0].Presence) != 0 ||
		pres[1].Presence[0].ClientID != "alice" || string(pres[1].Presence[0].State) != `{"name":"Alice"}` ||
		pres[2].Presence[0].ClientID != "bob" || pres[3].Left[0] != "alice" {
		t.Fatalf("presence events %d", len(pres))
	}
	room := e.Presence("d")
	if len(room) != 1 || room[0].ClientID != "bob" {
		t.Fatalf("room %+v", room)
	}
	// A late joiner gets the whole room after its catch-up.
	rec2, _ := subscribe(t, e, "d", syncd.SubscribeRequest{})
	evs = rec2.snapshot()
	if last := evs[len(evs)-1]; last.Kind != syncd.EventPresence || !last.Full || len(last.Presence) != 1 {
		t.Fatalf("join presence %+v", last)
	}
}

func TestSubscriptionCloseStopsDelivery(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	rec, sub := subscribe(t, e, "d", syncd.SubscribeRequest{})
	mustCommit(t, e, "d", merge(`{"a":1}`))
	sub.Close()
	sub.Close()
	n := len(rec.snapshot())
	mustCommit(t, e, "d", merge(`{"a":2}`))
	if len(rec.snapshot()) != n {
		t.Fatal("event after Close")
	}
}

func TestReadOps(t *testing.T) {
	e, _ := open(t, syncd.Options{RingSize: 4})
	epoch := fill(t, e, "d", 10)
	rng, err := e.ReadOps(ctxT(t), "d", 2, 3)
	if err != nil || rng.Epoch != epoch || rng.Head != 10 || len(rng.Ops) != 3 || rng.Ops[0].Rev != 3 {
		t.Fatalf("store read: %v %d %d %v", rng.Epoch, rng.Head, len(rng.Ops), err)
	}
	rng, err = e.ReadOps(ctxT(t), "d", 8, 10)
	if err != nil || len(rng.Ops) != 2 || rng.Ops[1].Rev != 10 {
		t.Fatalf("ring read: %d %v", len(rng.Ops), err)
	}
	rng, err = e.ReadOps(ctxT(t), "d", 10, 10)
	if err != nil || len(rng.Ops) != 0 {
		t.Fatalf("at head: %d %v", len(rng.Ops), err)
	}
	rng, err = e.ReadOps(ctxT(t), "d", 11, 10)
	wantCode(t, err, syncd.CodeInvalid)
	if rng.Head != 10 {
		t.Fatalf("beyond the head: the range says head %d, want 10", rng.Head)
	}
	_, err = e.ReadOps(ctxT(t), "absent", 0, 10)
	wantCode(t, err, syncd.CodeNotFound)
	metas, err := e.List(ctxT(t), "", 10)
	if err != nil || len(metas) != 1 || metas[0].Doc != "d" || metas[0].Head != 10 {
		t.Fatalf("list %+v %v", metas, err)
	}
}

// TestCatchUpShowsTheClientItsOwnOperations: deltas larger than the
// document are still sent, in place of a smaller snapshot, when they hold
// operations of the joining client — the only way it can tell which of its
// pending edits committed.
func TestCatchUpShowsTheClientItsOwnOperations(t *testing.T) {
	for _, ring := range []int{64, 4} { // deltas from the ring, then from the store
		e, _ := open(t, syncd.Options{RingSize: ring})
		mustCommit(t, e, "d", merge(`{"small":1}`))
		snap, _ := e.State(ctxT(t), "d")
		have := revision.Position{Epoch: snap.Epoch, Rev: 1}
		for i := 0; i < 20; i++ { // 20 operations: far larger than the document
			mustCommit(t, e, "d", merge(fmt.Sprintf(`{"small":%d}`, i)))
		}
		// bob has no operation among the missed ones: a snapshot.
		rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{ClientID: "bob", Have: have})
		if ev := catchUp(t, rec)[0]; ev.Kind != syncd.EventSnapshot || ev.Gap == nil || ev.Gap.Reason != syncd.GapSmaller {
			t.Fatalf("ring %d: a client without its own operations got %+v, want a smaller snapshot", ring, ev)
		}
		// bob's own edit is among the missed ones: deltas.
		mustCommit(t, e, "d", syncd.Edit{ClientID: "bob", ReqID: "7", Patch: json.RawMessage(`{"small":"bob"}`)})
		for i := 0; i < 3; i++ {
			mustCommit(t, e, "d", merge(fmt.Sprintf(`{"small":%d}`, i)))
		}
		rec, _ = subscribe(t, e, "d", syncd.SubscribeRequest{ClientID: "bob", Have: have, Compact: true})
		evs := catchUp(t, rec)
		rp := &replica{t: t, epoch: snap.Epoch, rev: 1, state: map[string]any{}}
		rp.apply(evs)
		// The others' operations around bob's are compacted: 20, bob's,
		// 3 travel as 3.
		if evs[0].Kind != syncd.EventDeltas || len(rp.ops) != 3 || rp.rev != 25 || evs[len(evs)-1].AckedReqID != "7" {
			t.Fatalf("ring %d: bob got %d events, %d ops (first %v), want deltas with his own op", ring, len(evs), len(rp.ops), evs[0].Kind)
		}
		if own := rp.ops[1]; own.ClientID != "bob" || own.ClientReqID != "7" || own.FirstRev != 0 || rp.ops[0].FirstRev != 2 || rp.ops[0].Rev != 21 {
			t.Fatalf("ring %d: ops %+v %+v, want others' 2..21 combined, then bob's own as committed", ring, rp.ops[0], own)
		}
	}
}
