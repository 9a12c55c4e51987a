package syncd_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/memstore"
)

// flakyStore fails Commit while failing is set.
type flakyStore struct {
	syncd.Store
	failing atomic.Bool
	commits atomic.Int64
}

func (f *flakyStore) Commit(ctx context.Context, batch []syncd.Record) error {
	f.commits.Add(1)
	if f.failing.Load() {
		return errors.New("disk on fire")
	}
	return f.Store.Commit(ctx, batch)
}

func TestFailedWriteIsNeitherAcknowledgedNorDelivered(t *testing.T) {
	st := &flakyStore{Store: memstore.New(memstore.Options{})}
	e, err := syncd.Open(st, syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer e.Close()
	epoch := fill(t, e, "d", 3)
	rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{Have: revision.Position{Epoch: epoch, Rev: 3}})

	st.failing.Store(true)
	_, err = e.Commit(ctxT(t), "d", syncd.Edit{ClientID: "alice", ReqID: "r1", Patch: json.RawMessage(`{"lost":true}`)})
	wantCode(t, err, syncd.CodeUnavailable)
	evs := rec.waitFor(t, "resync", func(evs []*syncd.Event) bool { return evs[len(evs)-1].Kind == syncd.EventResync })
	for _, ev := range evs {
		if ev.Kind == syncd.EventDeltas && ev.ToRev > 3 {
			t.Fatalf("delivered a write that failed: %+v", ev)
		}
	}
	if evs[len(evs)-1].Reason != syncd.ResyncStoreFailure {
		t.Fatalf("reason %s", evs[len(evs)-1].Reason)
	}

	// The store recovers: the same request id is not decided (it never
	// became durable), so resending it applies it, at revision 4.
	st.failing.Store(false)
	op := mustCommit(t, e, "d", syncd.Edit{ClientID: "alice", ReqID: "r1", Patch: json.RawMessage(`{"lost":false}`)})
	if op.Rev != 4 {
		t.Fatalf("rev after recovery %d", op.Rev)
	}
	snap, _ := e.State(ctxT(t), "d")
	if snap.Epoch != epoch {
		t.Fatal("epoch changed by a reload")
	}
	rec2, _ := subscribe(t, e, "d", syncd.SubscribeRequest{Have: revision.Position{Epoch: epoch, Rev: 3}})
	rp := &replica{t: t, epoch: epoch, rev: 3, state: map[string]any{}}
	rp.apply(catchUp(t, rec2))
	if len(rp.ops) != 1 || string(rp.ops[0].Payload) != `{"lost":false}` {
		t.Fatalf("log after recovery: %d ops", len(rp.ops))
	}
}

func TestIdleDocumentsUnloadAndReload(t *testing.T) {
	e, _ := open(t, syncd.Options{IdleTimeout: 20 * time.Millisecond, RingSize: 4, SnapshotInterval: 3})
	epoch := fill(t, e, "d", 10)
	mustCommit(t, e, "d", syncd.Edit{ClientID: "c", ReqID: "5", Patch: json.RawMessage(`{"x":1}`)})
	deadline := time.Now().Add(5 * time.Second)
	for e.Loaded() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("document never unloaded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Reloaded from snapshot + tail: same epoch, head and state; the
	// watermark came back from the store.
	snap, err := e.State(ctxT(t), "d")
	if err != nil || snap.Epoch != epoch || snap.Rev != 11 {
		t.Fatalf("reloaded %+v %v", snap, err)
	}
	_, err = e.Commit(ctxT(t), "d", syncd.Edit{ClientID: "c", ReqID: "4", Patch: json.RawMessage(`{"x":2}`)})
	wantCode(t, err, syncd.CodeDuplicate)
	// Rebase still works within what the reload put in the ring.
	mustCommit(t, e, "d", syncd.Edit{Base: 10, HasBase: true, Patch: json.RawMessage(`{"y":1}`)})
}

func TestSubscribedDocumentsStayLoaded(t *testing.T) {
	e, _ := open(t, syncd.Options{IdleTimeout: 10 * time.Millisecond})
	subscribe(t, e, "d", syncd.SubscribeRequest{})
	time.Sleep(60 * time.Millisecond)
	if e.Loaded() != 1 {
		t.Fatal("a subscribed document was unloaded")
	}
}
