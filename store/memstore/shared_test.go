package memstore_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/memstore"
)

func sharedPair(t *testing.T) (a, b *memstore.Handle) {
	t.Helper()
	sh := memstore.NewShared(memstore.Options{})
	a, b = sh.Open(), sh.Open()
	t.Cleanup(func() {
		a.Close()
		b.Close()
		sh.Close()
	})
	return a, b
}

func create(doc string) syncd.Record {
	return syncd.Record{Create: &syncd.CreateRecord{Doc: doc, Epoch: "e1"}}
}

func appendOp(doc string, rev revision.Rev, client, req string) syncd.Record {
	return syncd.Record{Append: &syncd.AppendRecord{Doc: doc, Epoch: "e1", Op: &syncd.Op{
		Rev: rev, Kind: syncd.OpMerge, Payload: []byte(`{"a":1}`), ClientID: client, ClientReqID: req,
	}}}
}

// A batch is atomic per document: the document whose append conflicts
// keeps nothing of its records, the other gets all of its own.
func TestSharedCommitIsAtomicPerDocument(t *testing.T) {
	a, b := sharedPair(t)
	ctx := t.Context()
	if err := a.Commit(ctx, []syncd.Record{create("x"), create("y")}); err != nil {
		t.Fatal(err)
	}
	err := b.Commit(ctx, []syncd.Record{
		appendOp("x", 1, "", ""),
		appendOp("y", 1, "", ""),
		appendOp("y", 3, "", ""), // not head+1
		appendOp("x", 2, "", ""),
	})
	var pce *syncd.PartialCommitError
	if !errors.As(err, &pce) {
		t.Fatalf("Commit: %v, want a *PartialCommitError", err)
	}
	if len(pce.Failed) != 1 || !errors.Is(pce.Failed["y"], syncd.ErrConflict) || !errors.Is(err, syncd.ErrConflict) {
		t.Fatalf("failed %v, want only y, a conflict", pce.Failed)
	}
	for doc, want := range map[string]revision.Rev{"x": 2, "y": 0} {
		_, head, err := a.Head(ctx, doc)
		if err != nil || head != want {
			t.Fatalf("Head(%s) = %d, %v; want %d", doc, head, err, want)
		}
	}
	if _, _, err := a.Head(ctx, "z"); !errors.Is(err, syncd.ErrNotFound) {
		t.Fatalf("Head of an absent document: %v, want ErrNotFound", err)
	}
}

// A client request another writer already decided is a conflict, whether
// it comes as an operation or as a refusal, and changes nothing.
func TestSharedDeduplicatesClientRequests(t *testing.T) {
	a, b := sharedPair(t)
	ctx := t.Context()
	if err := a.Commit(ctx, []syncd.Record{create("x"), appendOp("x", 1, "c", "r2")}); err != nil {
		t.Fatal(err)
	}
	for _, rec := range []syncd.Record{
		appendOp("x", 2, "c", "r2"),
		appendOp("x", 2, "c", "r1"), // below the watermark: decided too
		{Decide: &syncd.DecideRecord{Doc: "x", ClientID: "c", ReqID: "r2", Code: "invalid"}},
	} {
		if err := b.Commit(ctx, []syncd.Record{rec}); !errors.Is(err, syncd.ErrConflict) {
			t.Fatalf("Commit of a decided request: %v, want a conflict", err)
		}
	}
	if err := b.Commit(ctx, []syncd.Record{appendOp("x", 2, "c", "r3")}); err != nil {
		t.Fatalf("a new request: %v", err)
	}
	outs, err := a.Outcomes(ctx, "x", "c")
	if err != nil || len(outs) != 2 || outs[0].Rev != 1 || outs[1].Rev != 2 {
		t.Fatalf("Outcomes = %v, %v; want r2 at 1, r3 at 2", outs, err)
	}
}

// Watch tells every handle's watcher of every writer's commits, from a
// goroutine of its own, and never after stop.
func TestSharedWatch(t *testing.T) {
	a, b := sharedPair(t)
	ctx := t.Context()
	var calls atomic.Int32
	got := make(chan struct{}, 16)
	stop := b.Watch("x", func(syncd.StoredChange) {
		calls.Add(1)
		got <- struct{}{}
	})
	otherStop := a.Watch("y", func(syncd.StoredChange) { t.Error("a watch of another document was told") })
	defer otherStop()
	if err := a.Commit(ctx, []syncd.Record{create("x")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch was not told of another writer's commit")
	}
	if err := b.Commit(ctx, []syncd.Record{appendOp("x", 1, "", "")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch was not told of its own handle's commit")
	}
	stop()
	n := calls.Load()
	if err := a.Commit(ctx, []syncd.Record{appendOp("x", 2, "", "")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // a call after stop would come now
	if calls.Load() != n {
		t.Fatal("changed was called after stop returned")
	}
}

// A handle's Close ends its watches and its calls, not the log.
func TestSharedHandleClose(t *testing.T) {
	a, b := sharedPair(t)
	b.Watch("x", func(syncd.StoredChange) {})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(t.Context(), "x"); err == nil {
		t.Fatal("Load on a closed handle succeeded")
	}
	if err := a.Commit(t.Context(), []syncd.Record{create("x")}); err != nil {
		t.Fatalf("the other handle: %v", err)
	}
}

// A malformed record is the writer's bug, not a conflict: it fails the
// whole batch, and nothing of it is applied.
func TestSharedMalformedRecordFailsTheBatch(t *testing.T) {
	a, _ := sharedPair(t)
	err := a.Commit(t.Context(), []syncd.Record{create("x"), {}})
	var pce *syncd.PartialCommitError
	if err == nil || errors.As(err, &pce) || errors.Is(err, syncd.ErrConflict) {
		t.Fatalf("Commit with a malformed record: %v, want a plain error", err)
	}
	if _, _, err := a.Head(t.Context(), "x"); !errors.Is(err, syncd.ErrNotFound) {
		t.Fatalf("the valid record of the batch was applied: %v", err)
	}
}

// A watch passes the operations appended since its last call, merged
// across commits, and an incomplete change when a commit created or
// deleted the document.
func TestSharedWatchTellsOps(t *testing.T) {
	a, b := sharedPair(t)
	ctx := t.Context()
	calls := make(chan syncd.StoredChange, 16)
	release := make(chan struct{})
	stop := b.Watch("x", func(c syncd.StoredChange) {
		<-release // hold the first call so the next commits merge
		calls <- c
	})
	defer stop()
	next := func() syncd.StoredChange {
		t.Helper()
		select {
		case c := <-calls:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("the watch was not called")
			return syncd.StoredChange{}
		}
	}
	if err := a.Commit(ctx, []syncd.Record{create("x")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // the first call is under way, held
	for rev := revision.Rev(1); rev <= 3; rev++ {
		if err := a.Commit(ctx, []syncd.Record{appendOp("x", rev, "c1", fmt.Sprintf("r-%d", rev))}); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if c := next(); c.Complete {
		t.Fatalf("the create was told as Complete: %+v", c)
	}
	c := next()
	if !c.Complete || c.Epoch != "e1" || len(c.Ops) != 3 || c.Ops[0].Rev != 1 || c.Ops[2].Rev != 3 || c.Ops[2].ClientReqID != "r-3" {
		t.Fatalf("three appends told as %+v, want revisions 1..3 of e1, complete", c)
	}
	if err := a.Commit(ctx, []syncd.Record{{Delete: &syncd.DeleteRecord{Doc: "x"}}}); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Complete {
		t.Fatalf("the delete was told as Complete: %+v", c)
	}
}
