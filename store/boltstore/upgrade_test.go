package boltstore

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// TestOpenLayout1 opens a file written in layout 1 (no journal, v1 metas),
// built here byte by byte as that layout wrote it, and checks that it reads
// the same, takes new operations and checkpoints them, and is layout 2
// afterwards.
func TestOpenLayout1(t *testing.T) {
	const epoch = revision.Epoch("01J00000000000000000000001")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "syncd.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		buckets := map[string]*bbolt.Bucket{}
		for _, name := range []string{"info", "meta", "snap", "ops", "marks"} {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			buckets[name] = b
		}
		if err := buckets["info"].Put([]byte("layout"), []byte{1}); err != nil {
			return err
		}
		// meta v1: version | epoch | head 2 | first 1 | snapRev 0 | created | updated.
		m := append([]byte{1}, byte(len(epoch)))
		m = append(m, epoch...)
		m = append(m, 2, 1, 0)
		m = binary.AppendVarint(m, 10)
		m = binary.AppendVarint(m, 20)
		if err := buckets["meta"].Put([]byte("doc"), m); err != nil {
			return err
		}
		ops, err := buckets["ops"].CreateBucket([]byte("doc"))
		if err != nil {
			return err
		}
		for r := revision.Rev(1); r <= 2; r++ {
			op := encodeOp(&syncd.Op{Rev: r, Kind: syncd.OpMerge, Payload: []byte(`{"a":1}`), ClientID: "c1", ClientReqID: "r-" + string('0'+rune(r)), Time: 10})
			if err := ops.Put(revKey(r), op); err != nil {
				return err
			}
		}
		marks, err := buckets["marks"].CreateBucket([]byte("doc"))
		if err != nil {
			return err
		}
		return marks.Put([]byte("c1"), encodeMark(revision.Watermark{ReqID: "r-2"}))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(path, Options{NoSync: true, JournalOps: 2})
	if err != nil {
		t.Fatalf("Open of a layout-1 file: %v", err)
	}
	sd, err := s.Load(ctx, "doc")
	if err != nil || sd.Meta.Head != 2 || len(sd.Tail) != 2 || sd.Meta.Epoch != epoch {
		t.Fatalf("Load: %+v, %v", sd, err)
	}
	for r := revision.Rev(3); r <= 6; r++ { // two checkpoints
		err := s.Commit(ctx, []syncd.Record{{Append: &syncd.AppendRecord{Doc: "doc", Epoch: epoch, Op: &syncd.Op{
			Rev: r, Kind: syncd.OpMerge, Payload: []byte(`{"a":2}`), ClientID: "c1", ClientReqID: "r-" + string('0'+rune(r)), Time: 30,
		}}}})
		if err != nil {
			t.Fatalf("append %d: %v", r, err)
		}
	}
	ops, err := s.ReadOps(ctx, "doc", epoch, 0, 10)
	if err != nil || len(ops) != 6 {
		t.Fatalf("ReadOps: %d ops, %v", len(ops), err)
	}
	if w, err := s.Watermark(ctx, "doc", "c1"); err != nil || w.ReqID != "r-6" {
		t.Fatalf("Watermark: %q, %v", w.ReqID, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(path); err != nil {
		t.Fatalf("after the upgrade: %v", err)
	}
}
