package syncd_test

import (
	"testing"

	"github.com/deltasync/syncd"
)

// CommitInEpoch returns the epoch the operation belongs to: the document's
// first, and after a deletion and a new edit, the new one.
func TestCommitInEpoch(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	ctx := ctxT(t)
	op, epoch, err := e.CommitInEpoch(ctx, "ce", merge(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if pos, _ := e.Head("ce"); epoch == "" || epoch != pos.Epoch || op.Rev != 1 {
		t.Fatalf("epoch %q rev %d, want the document's %q and 1", epoch, op.Rev, pos.Epoch)
	}
	if err := e.Delete(ctx, "ce"); err != nil {
		t.Fatal(err)
	}
	op2, epoch2, err := e.CommitInEpoch(ctx, "ce", merge(`{"b":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if pos, _ := e.Head("ce"); epoch2 == epoch || epoch2 != pos.Epoch || op2.Rev != 1 {
		t.Fatalf("after a deletion: epoch %q rev %d, want a new epoch (the document's %q, not %q) and rev 1", epoch2, op2.Rev, pos.Epoch, epoch)
	}
	if _, _, err := e.CommitInEpoch(ctx, "ce", merge(`[`)); err == nil {
		t.Fatal("a patch that does not parse was committed")
	}
}
