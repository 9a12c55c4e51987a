package boltstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/boltstore"
)

// fillDB writes documents through a real engine (ops in the journal and in
// the logs, snapshots, watermarks) and closes it.
func fillDB(t *testing.T, path string) {
	t.Helper()
	// Applied at once, so that the big document reaches the bbolt file
	// (and its deletion leaves space to compact) rather than being created
	// and deleted within one of the applier's transactions.
	st, err := boltstore.Open(path, boltstore.Options{JournalOps: 8, ApplyInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	e, err := syncd.Open(st, syncd.Options{SnapshotInterval: 5})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 12 {
		for _, doc := range []string{"a", "b", "big"} {
			patch := fmt.Sprintf(`{"k%d":%d}`, i, i)
			if doc == "big" {
				patch = fmt.Sprintf(`{"k%d":%q}`, i, strings.Repeat("x", 20000))
			}
			if _, err := e.Commit(ctx, doc, syncd.Edit{ClientID: "c1", ReqID: fmt.Sprintf("r%03d", i), Patch: json.RawMessage(patch)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.Delete(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	e.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMaintenanceHelpers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "syncd.db")
	fillDB(t, path)

	// A server holding the file locks the maintenance commands out.
	running, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boltstore.OpenReadOnly(path, boltstore.Options{Timeout: 50e6}); !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("OpenReadOnly of a file in use: %v, want ErrLocked", err)
	}
	if _, _, err := boltstore.Compact(ctx, path); !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("Compact of a file in use: %v, want ErrLocked", err)
	}
	running.Close()

	if n, err := boltstore.Verify(ctx, path); err != nil || n != 2 {
		t.Fatalf("Verify: %d documents, %v; want 2", n, err)
	}

	before, after, err := boltstore.Compact(ctx, path)
	if err != nil || after >= before {
		t.Fatalf("Compact: %d → %d bytes, %v; want smaller (a 240 KB document was deleted)", before, after, err)
	}

	ro, err := boltstore.OpenReadOnly(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old, err := ro.Load(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := ro.Watermark(ctx, "a", "c1"); w.ReqID != "r011" {
		t.Fatalf("watermark before %q", w.ReqID)
	}
	ro.Close()

	n, err := boltstore.RenewEpochs(path, func() revision.Epoch { return "01JNEWEPOCH0000000000000000" })
	if err != nil || n != 2 {
		t.Fatalf("RenewEpochs: %d, %v", n, err)
	}
	ro, err = boltstore.OpenReadOnly(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	now, err := ro.Load(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if now.Meta.Epoch == old.Meta.Epoch || now.Meta.Head != old.Meta.Head {
		t.Fatalf("after renewal: epoch %s head %d; before: %s %d", now.Meta.Epoch, now.Meta.Head, old.Meta.Epoch, old.Meta.Head)
	}
	if w, _ := ro.Watermark(ctx, "a", "c1"); w.ReqID != "" {
		t.Fatalf("watermark %q survived the new epoch", w.ReqID)
	}
	if _, err := ro.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRenewEpochsDropsOutcomes: a restored database gives every document a
// new epoch, and a new epoch starts without watermarks and without
// outcomes (syncd.Store.Outcomes; PROTOCOL.md §6.8 step 6). Outcomes kept
// from the old epoch would be served with the new epoch's first catch-up
// (addOutcomes sends every outcome up to the watermark), as if the old
// history's decisions were this one's.
func TestRenewEpochsDropsOutcomes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syncd.db")
	fillDB(t, path)
	ctx := context.Background()
	s, err := boltstore.OpenReadOnly(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Outcomes(ctx, "a", "c1")
	s.Close()
	if err != nil || len(before) == 0 {
		t.Fatalf("before: outcomes %v (%v), want some", before, err)
	}
	n := 0
	if _, err := boltstore.RenewEpochs(path, func() revision.Epoch { n++; return revision.Epoch(fmt.Sprintf("01R%023d", n)) }); err != nil {
		t.Fatal(err)
	}
	s, err = boltstore.OpenReadOnly(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if w, err := s.Watermark(ctx, "a", "c1"); err != nil || w.ReqID != "" {
		t.Fatalf("watermark after renew: %q (%v), want none", w.ReqID, err)
	}
	if outs, err := s.Outcomes(ctx, "a", "c1"); err != nil || len(outs) != 0 {
		t.Fatalf("outcomes after renew (new epoch): %v (%v), want none", outs, err)
	}
}
