package boltstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// With an apply interval far longer than the test, bbolt holds nothing of
// an acknowledged batch until someone waits for it: every read, the
// backup and Checkpoint must see the batch all the same.
func TestReadsSeeLoggedBatches(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "syncd.db")
	s, err := Open(path, Options{NoSync: true, ApplyInterval: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	commit := func(recs ...syncd.Record) {
		t.Helper()
		if err := s.Commit(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	commit(syncd.Record{Create: &syncd.CreateRecord{Doc: "a", Epoch: "e"}},
		syncd.Record{Append: &syncd.AppendRecord{Doc: "a", Epoch: "e", Op: mergeOpBy(1, "c", "r1")}})
	if sd, err := s.Load(ctx, "a"); err != nil || sd.Meta.Head != 1 {
		t.Fatalf("Load right after the commit: %+v, %v", sd, err)
	}
	commit(syncd.Record{Append: &syncd.AppendRecord{Doc: "a", Epoch: "e", Op: mergeOpBy(2, "c", "r2")}})
	if ops, err := s.ReadOps(ctx, "a", "e", 0, 10); err != nil || len(ops) != 2 {
		t.Fatalf("ReadOps right after the commit: %d ops, %v", len(ops), err)
	}
	commit(syncd.Record{Decide: &syncd.DecideRecord{Doc: "a", ClientID: "c", ReqID: "r3"}})
	if w, err := s.Watermark(ctx, "a", "c"); err != nil || w.ReqID != "r3" {
		t.Fatalf("Watermark right after the commit: %q, %v", w.ReqID, err)
	}
	commit(syncd.Record{Create: &syncd.CreateRecord{Doc: "b", Epoch: "e"}})
	if metas, err := s.List(ctx, "", 10); err != nil || len(metas) != 2 {
		t.Fatalf("List right after the commit: %+v, %v", metas, err)
	}
	// A conflict is still Commit's answer, decided against the logged
	// state: "b" exists only in the log so far.
	commit(syncd.Record{Append: &syncd.AppendRecord{Doc: "b", Epoch: "e", Op: mergeOp(1)}})
	if err := s.Commit(ctx, []syncd.Record{{Append: &syncd.AppendRecord{Doc: "b", Epoch: "e", Op: mergeOp(1)}}}); err == nil {
		t.Fatal("a second append at revision 1 was accepted")
	}
	commit(syncd.Record{Create: &syncd.CreateRecord{Doc: "c", Epoch: "e"}})
	var buf bytes.Buffer
	if _, err := s.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if err := writeFile(copyPath, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	c, err := Open(copyPath, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if metas, err := c.List(ctx, "", 10); err != nil || len(metas) != 3 {
		t.Fatalf("the backup lists %+v (%v), want the three documents", metas, err)
	}
	commit(syncd.Record{Delete: &syncd.DeleteRecord{Doc: "c"}})
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	applied, logged := s.applied, s.logged
	s.mu.Unlock()
	if applied != logged {
		t.Fatalf("after Checkpoint bbolt holds up to %d, the log up to %d", applied, logged)
	}
}

func mergeOpBy(rev revision.Rev, client, req string) *syncd.Op {
	op := mergeOp(rev)
	op.ClientID, op.ClientReqID = client, req
	return op
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }

// A failed log write breaks Commit for good (what the disk holds is no
// longer known), but the batches already logged are still applied and
// read.
func TestLogWriteFailureStopsCommitsNotReads(t *testing.T) {
	ctx := context.Background()
	fs := newFaultFS(1)
	s, err := openWith(filepath.Join(t.TempDir(), "syncd.db"), Options{NoSync: true, ApplyInterval: 1 << 40}, fs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "a", Epoch: "e"}}}); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	fs.crashAtWrite = fs.writes + 1
	fs.mu.Unlock()
	if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "b", Epoch: "e"}}}); err == nil {
		t.Fatal("a commit whose log write failed succeeded")
	}
	if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "c", Epoch: "e"}}}); !errors.Is(err, errStoreFailed) {
		t.Fatalf("a commit after a failed log write: %v, want errStoreFailed", err)
	}
	if _, err := s.Load(ctx, "a"); err != nil {
		t.Fatalf("reading a batch logged before the failure: %v", err)
	}
}
