package memstore_test

import (
	"errors"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/memstore"
)

func deleteDoc(doc string) syncd.Record {
	return syncd.Record{Delete: &syncd.DeleteRecord{Doc: doc}}
}

func createIn(doc string, e revision.Epoch) syncd.Record {
	return syncd.Record{Create: &syncd.CreateRecord{Doc: doc, Epoch: e}}
}

func requireEpoch(t *testing.T, h *memstore.Handle, doc string, want revision.Epoch) {
	t.Helper()
	e, _, err := h.Head(t.Context(), doc)
	if err != nil || e != want {
		t.Fatalf("Head(%s) = %s, %v; want epoch %s", doc, e, err, want)
	}
}

// A delete by a handle that last learnt another epoch than the log holds
// is a conflict that changes nothing; the conflict teaches the handle the
// log's epoch, so that its retry (the engine's, after it reloads) goes
// through.
func TestSharedDeleteOfAnEpochNotSeenConflicts(t *testing.T) {
	a, b := sharedPair(t)
	ctx := t.Context()
	if err := a.Commit(ctx, []syncd.Record{createIn("x", "e1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(ctx, []syncd.Record{deleteDoc("x"), createIn("x", "e2")}); err != nil {
		t.Fatalf("a re-creates the document it knows: %v", err)
	}
	err := b.Commit(ctx, []syncd.Record{deleteDoc("x"), createIn("x", "e3")})
	if !errors.Is(err, syncd.ErrConflict) {
		t.Fatalf("b re-creates the epoch it knows, e1, gone: %v, want ErrConflict", err)
	}
	requireEpoch(t, a, "x", "e2")
	if err := b.Commit(ctx, []syncd.Record{deleteDoc("x"), createIn("x", "e3")}); err != nil {
		t.Fatalf("b's retry, once it knows e2: %v", err)
	}
	requireEpoch(t, a, "x", "e3")
	// A's own view (e2) is now old: its plain delete conflicts too.
	if err := a.Commit(ctx, []syncd.Record{deleteDoc("x")}); !errors.Is(err, syncd.ErrConflict) {
		t.Fatalf("a deletes e2, replaced by b's e3: %v, want ErrConflict", err)
	}
	requireEpoch(t, b, "x", "e3")
}

// A handle that learnt a document is absent does not delete another
// writer's creation of it unseen.
func TestSharedDeleteOfADocumentSeenAbsentConflicts(t *testing.T) {
	a, b := sharedPair(t)
	ctx := t.Context()
	if _, err := b.Load(ctx, "x"); !errors.Is(err, syncd.ErrNotFound) {
		t.Fatalf("Load of an absent document: %v", err)
	}
	if err := a.Commit(ctx, []syncd.Record{createIn("x", "e1")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, []syncd.Record{deleteDoc("x"), createIn("x", "e2")}); !errors.Is(err, syncd.ErrConflict) {
		t.Fatalf("b deletes what it saw absent: %v, want ErrConflict", err)
	}
	requireEpoch(t, b, "x", "e1")
}

// A handle that never read nor wrote a document deletes what the log
// holds, as a natsstore writer without a cached state reads the log
// first.
func TestSharedDeleteOfADocumentNeverSeen(t *testing.T) {
	a, b := sharedPair(t)
	ctx := t.Context()
	if err := a.Commit(ctx, []syncd.Record{createIn("x", "e1")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, []syncd.Record{deleteDoc("x")}); err != nil {
		t.Fatalf("b deletes a document it never saw: %v", err)
	}
	if _, _, err := a.Head(ctx, "x"); !errors.Is(err, syncd.ErrNotFound) {
		t.Fatalf("Head after the delete: %v, want ErrNotFound", err)
	}
}
