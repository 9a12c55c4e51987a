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

// runOf builds a run of ops, for tests that write stored values by hand.
func runOf(ops ...*syncd.Op) *runBuilder {
	var r runBuilder
	for _, op := range ops {
		r.add(op.Rev, encodeOp(op))
	}
	return &r
}

func mergeOp(rev revision.Rev) *syncd.Op {
	return &syncd.Op{Rev: rev, Kind: syncd.OpMerge, Payload: []byte(`{}`)}
}

// TestCorruptFile damages stored values directly and checks that reads
// report corruption instead of panicking or serving wrong data. The store
// holds "doc" with a snapshot at 1 and ops 1 … 3, committed as two batches
// (op 1; ops 2 and 3): either in the document's log as the runs [1] and
// [2 3] (a journal of one entry: every commit checkpoints), or in the
// journal as the entries 1 and 2.
func TestCorruptFile(t *testing.T) {
	const epoch = revision.Epoch("01J00000000000000000000001")
	type damage struct {
		name   string
		damage func(tx *bbolt.Tx) error
		// logOK: ReadOps does not read what was damaged.
		logOK bool
	}
	log := func(tx *bbolt.Tx) *bbolt.Bucket { return tx.Bucket(bucketOps).Bucket([]byte("doc")) }
	inLog := []damage{
		{"RunValue", func(tx *bbolt.Tx) error {
			return log(tx).Put(revKey(2), []byte{encodingRun, 2, 0xff})
		}, false},
		{"RunOpValue", func(tx *bbolt.Tx) error {
			return log(tx).Put(revKey(2), []byte{encodingRun, 1, 2, encodingV1, 0xff})
		}, false},
		{"RunUnderWrongKey", func(tx *bbolt.Tx) error {
			return log(tx).Put(revKey(2), runOf(mergeOp(3), mergeOp(4)).encode())
		}, false},
		{"RunWithGap", func(tx *bbolt.Tx) error {
			return log(tx).Put(revKey(2), runOf(mergeOp(2), mergeOp(4)).encode())
		}, false},
		{"RunMissing", func(tx *bbolt.Tx) error {
			return log(tx).Delete(revKey(2))
		}, false},
		{"MetaValue", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put([]byte("doc"), []byte{7, 7, 7})
		}, false},
		{"SnapshotMissing", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketSnap).Delete([]byte("doc"))
		}, true},
	}
	journal := func(tx *bbolt.Tx) *bbolt.Bucket { return tx.Bucket(bucketJournal) }
	inJournal := []damage{
		{"EntryValue", func(tx *bbolt.Tx) error {
			return journal(tx).Put(seqKey(2), []byte{encodingV1, 0xff})
		}, false},
		{"EntryRunValue", func(tx *bbolt.Tx) error {
			return journal(tx).Put(seqKey(2), append(encodeEntry([]byte("doc"), runOf(mergeOp(2)))[:6], 0xff))
		}, false},
		{"EntryWrongRev", func(tx *bbolt.Tx) error {
			return journal(tx).Put(seqKey(2), encodeEntry([]byte("doc"), runOf(mergeOp(3), mergeOp(4))))
		}, false},
		{"EntryOfAnotherDoc", func(tx *bbolt.Tx) error {
			return journal(tx).Put(seqKey(2), encodeEntry([]byte("other"), runOf(mergeOp(2), mergeOp(3))))
		}, false},
		{"EntryShort", func(tx *bbolt.Tx) error {
			return journal(tx).Put(seqKey(2), encodeEntry([]byte("doc"), runOf(mergeOp(2))))
		}, false},
		{"EntryMissing", func(tx *bbolt.Tx) error {
			return journal(tx).Delete(seqKey(2))
		}, false},
		{"MetaPointsPastJournal", func(tx *bbolt.Tx) error {
			m, err := getMeta(tx, "doc")
			if err != nil {
				return err
			}
			m.JSeq = 9
			return tx.Bucket(bucketMeta).Put([]byte("doc"), encodeMeta(m))
		}, false},
	}
	run := func(t *testing.T, journalOps int, d damage) {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(filepath.Join(t.TempDir(), "syncd.db"), Options{NoSync: true, JournalOps: journalOps})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			op := func(r revision.Rev) syncd.Record {
				return syncd.Record{Append: &syncd.AppendRecord{Doc: "doc", Epoch: epoch, Op: mergeOp(r)}}
			}
			err = s.Commit(ctx, []syncd.Record{
				{Create: &syncd.CreateRecord{Doc: "doc", Epoch: epoch}}, op(1),
				{Snapshot: &syncd.SnapshotRecord{Doc: "doc", Epoch: epoch, Rev: 1, State: []byte(`{}`)}},
			})
			// Each batch is a bbolt transaction of its own, as the
			// layout described above needs.
			if err == nil {
				err = s.Checkpoint(ctx)
			}
			if err == nil {
				err = s.Commit(ctx, []syncd.Record{op(2), op(3)})
			}
			if err == nil {
				err = s.Checkpoint(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := s.db.View(checkTx); err != nil {
				t.Fatalf("the file is damaged before the damage: %v", err)
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
	t.Run("Log", func(t *testing.T) {
		for _, d := range inLog {
			run(t, 1, d)
		}
	})
	t.Run("Journal", func(t *testing.T) {
		for _, d := range inJournal {
			run(t, 100, d)
		}
	})
}
