package boltstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// TestCorruptFile damages stored values directly and checks that reads
// report corruption instead of panicking or serving wrong data.
func TestCorruptFile(t *testing.T) {
	const epoch = revision.Epoch("01J00000000000000000000001")
	damages := []struct {
		name   string
		damage func(tx *bbolt.Tx) error
		// logOK: ReadOps does not read what was damaged.
		logOK bool
	}{
		{"OpValue", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketOps).Bucket([]byte("doc")).Put(revKey(2), []byte{encodingV1, 0xff})
		}, false},
		{"OpUnderWrongKey", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketOps).Bucket([]byte("doc")).Put(revKey(2), encodeOp(&syncd.Op{Rev: 3, Kind: syncd.OpMerge}))
		}, false},
		{"OpMissing", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketOps).Bucket([]byte("doc")).Delete(revKey(2))
		}, false},
		{"MetaValue", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put([]byte("doc"), []byte{7, 7, 7})
		}, false},
		{"SnapshotMissing", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketSnap).Delete([]byte("doc"))
		}, true},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(filepath.Join(t.TempDir(), "syncd.db"), Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			op := func(r revision.Rev) syncd.Record {
				return syncd.Record{Append: &syncd.Append{Doc: "doc", Epoch: epoch, Op: &syncd.Op{Rev: r, Kind: syncd.OpMerge, Payload: []byte(`{}`)}}}
			}
			err = s.Commit(ctx, []syncd.Record{
				{Create: &syncd.Create{Doc: "doc", Epoch: epoch}}, op(1),
				{Snapshot: &syncd.Snapshot{Doc: "doc", Epoch: epoch, Rev: 1, State: []byte(`{}`)}},
				op(2), op(3),
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.db.Update(d.damage); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Load(ctx, "doc"); !errors.Is(err, errCorrupt) {
				t.Errorf("Load: %v, want a corruption error", err)
			}
			if _, err := s.ReadOps(ctx, "doc", epoch, 0, 10); !d.logOK && !errors.Is(err, errCorrupt) {
				t.Errorf("ReadOps: %v, want a corruption error", err)
			}
			if err := s.db.View(checkTx); err == nil {
				t.Error("CheckFile's checks accept the damaged file")
			}
		})
	}
}
