package syncd_test

import (
	"testing"

	"github.com/deltasync/syncd"
)

// A document deleted here (still in memory, absent) and created again
// through another engine is found by this engine's readers: a read is
// never stale (docs/guarantees.md, "Reads are never stale").
func TestSharedAbsentRecreatedElsewhereIsRead(t *testing.T) {
	engines, _ := openShared(t, 2, syncd.Options{})
	a, b := engines[0], engines[1]
	ctx := ctxT(t)
	mustCommit(t, a, "d", merge(`{"x":1}`))
	if _, err := b.State(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	_, err := b.State(ctx, "d")
	wantCode(t, err, syncd.CodeNotFound) // b's copy is now absent, and stays loaded

	mustCommit(t, a, "d", merge(`{"y":2}`)) // created again, through a
	s, err := b.State(ctx, "d")
	if err != nil {
		t.Fatalf("b reads the re-created document: %v", err)
	}
	if got := string(s.State); got != `{"y":2}` {
		t.Fatalf("b reads %s at %d, want {\"y\":2}", got, s.Rev)
	}
	if _, err := b.ReadOps(ctx, "d", 0, 10); err != nil {
		t.Fatalf("b reads the re-created document's operations: %v", err)
	}
}

// The same, on the engine that deleted it: another engine creates it
// again, and the deleting engine's readers see it.
func TestSharedDeletedHereRecreatedElsewhereIsRead(t *testing.T) {
	engines, _ := openShared(t, 2, syncd.Options{})
	a, b := engines[0], engines[1]
	ctx := ctxT(t)
	mustCommit(t, a, "d", merge(`{"x":1}`))
	if err := a.Delete(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, b, "d", merge(`{"y":2}`))
	s, err := a.State(ctx, "d")
	if err != nil {
		t.Fatalf("a reads the document b created again: %v", err)
	}
	if got := string(s.State); got != `{"y":2}` {
		t.Fatalf("a reads %s at %d, want {\"y\":2}", got, s.Rev)
	}
}
