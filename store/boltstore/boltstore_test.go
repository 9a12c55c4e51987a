package boltstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/boltstore"
	"github.com/deltasync/syncd/store/storetest"
)

// openTemp opens a store on a new file in t's temporary directory and, once
// the suite has closed it, checks the file itself with CheckFile. NoSync
// keeps the suite fast; durability is bbolt's fsync, which
// TestDefaultSyncPersists and the benchmarks exercise.
func openTemp(t *testing.T, o storetest.Options) syncd.Store {
	return openTempJournal(t, o, 0)
}

func openTempJournal(t *testing.T, o storetest.Options, journalOps int) syncd.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "syncd.db")
	s, err := boltstore.Open(path, boltstore.Options{Retention: o.Retention, NoSync: true, JournalOps: journalOps})
	if err != nil {
		t.Fatal(err)
	}
	// Registered after TempDir's cleanup, so it runs before the directory
	// goes, and after the suite's check-and-close, registered later still.
	t.Cleanup(func() {
		if err := boltstore.CheckFile(path); err != nil {
			t.Errorf("file check: %v", err)
		}
	})
	return s
}

func reopen(t *testing.T, old syncd.Store, o storetest.Options) syncd.Store {
	return reopenJournal(t, old, o, 0)
}

func reopenJournal(t *testing.T, old syncd.Store, o storetest.Options, journalOps int) syncd.Store {
	t.Helper()
	path := old.(*boltstore.Store).Path()
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := boltstore.Open(path, boltstore.Options{Retention: o.Retention, NoSync: true, JournalOps: journalOps})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConformance runs the suite with operations kept in the journal (the
// default: the suite's documents never fill it), moved out at every commit
// (1), and moved every few commits, so that reads and trimming meet logs
// split between a document's bucket and the journal (3).
func TestConformance(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("JournalOps=%d", n), func(t *testing.T) {
			storetest.RunPersistent(t,
				func(t *testing.T, o storetest.Options) syncd.Store { return openTempJournal(t, o, n) },
				func(t *testing.T, old syncd.Store, o storetest.Options) syncd.Store {
					return reopenJournal(t, old, o, n)
				})
		})
	}
}

const epoch = revision.Epoch("01J00000000000000000000001")

// fill commits docs documents of n merge ops each, with a snapshot at
// every tenth op and a watermark.
func fill(t testing.TB, s *boltstore.Store, docs, n int) {
	t.Helper()
	ctx := context.Background()
	var create []syncd.Record
	for d := range docs {
		create = append(create, syncd.Record{Create: &syncd.CreateRecord{Doc: fmt.Sprint("doc-", d), Epoch: epoch, Time: 1}})
	}
	if err := s.Commit(ctx, create); err != nil {
		t.Fatal(err)
	}
	state := map[int]int{}
	for r := 1; r <= n; r++ {
		var batch []syncd.Record
		for d := range docs {
			doc := fmt.Sprint("doc-", d)
			batch = append(batch, syncd.Record{Append: &syncd.AppendRecord{Doc: doc, Epoch: epoch, Op: &syncd.Op{
				Rev: revision.Rev(r), Kind: syncd.OpMerge, Payload: fmt.Appendf(nil, `{"k%d":%d}`, r%5, r),
				ClientID: "c1", ClientReqID: fmt.Sprintf("r-%d", r), Time: int64(r),
			}}})
			if r%10 == 0 {
				state[r%5] = r // the same for every document
				batch = append(batch, syncd.Record{Snapshot: &syncd.SnapshotRecord{Doc: doc, Epoch: epoch, Rev: revision.Rev(r), State: snapshotOf(state)}})
			}
		}
		if r%10 != 0 {
			state[r%5] = r
		}
		if err := s.Commit(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
}

func snapshotOf(state map[int]int) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for k := range 5 {
		if v, ok := state[k]; ok {
			if !first {
				b.WriteByte(',')
			}
			first = false
			fmt.Fprintf(&b, `"k%d":%d`, k, v)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

func open(t *testing.T, path string, o boltstore.Options) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestDefaultSyncPersists runs the default, fsyncing configuration through
// a reopen.
func TestDefaultSyncPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syncd.db")
	s := open(t, path, boltstore.Options{})
	fill(t, s, 2, 25)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, boltstore.Options{})
	sd, err := s.Load(t.Context(), "doc-1")
	if err != nil {
		t.Fatal(err)
	}
	if sd.Meta.Head != 25 || sd.SnapshotRev != 20 || len(sd.Tail) != 5 {
		t.Errorf("after reopening: head %d, snapshot %d, tail %d; want 25, 20, 5", sd.Meta.Head, sd.SnapshotRev, len(sd.Tail))
	}
	if err := storetest.Check(t.Context(), s); err != nil {
		t.Error(err)
	}
}

func TestFillIsSound(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "syncd.db"), boltstore.Options{NoSync: true})
	fill(t, s, 3, 35)
	if err := storetest.Check(t.Context(), s); err != nil {
		t.Fatal(err)
	}
}

// TestBackup backs up while commits run, then opens the copy both with
// bbolt and as a store, and checks it.
func TestBackup(t *testing.T) {
	dir := t.TempDir()
	s := open(t, filepath.Join(dir, "syncd.db"), boltstore.Options{NoSync: true, Retention: 20})
	fill(t, s, 4, 30)

	var wg sync.WaitGroup
	wg.Go(func() {
		ctx := context.Background()
		for r := 31; r <= 80; r++ {
			err := s.Commit(ctx, []syncd.Record{{Append: &syncd.AppendRecord{Doc: "doc-0", Epoch: epoch, Op: &syncd.Op{
				Rev: revision.Rev(r), Kind: syncd.OpMerge, Payload: []byte(`{"late":true}`),
			}}}})
			if err != nil {
				t.Error(err)
				return
			}
		}
	})
	var buf bytes.Buffer
	n, err := s.Backup(t.Context(), &buf)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("Backup returned %d, wrote %d", n, buf.Len())
	}

	copyPath := filepath.Join(dir, "backup.db")
	if err := os.WriteFile(copyPath, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(copyPath, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("bbolt cannot open the backup: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := boltstore.CheckFile(copyPath); err != nil {
		t.Fatalf("backup file: %v", err)
	}
	c := open(t, copyPath, boltstore.Options{})
	if err := storetest.Check(t.Context(), c); err != nil {
		t.Fatalf("backup store: %v", err)
	}
	metas, err := c.List(t.Context(), "", 10)
	if err != nil || len(metas) != 4 {
		t.Fatalf("backup lists %v, %v; want 4 documents", metas, err)
	}
	// The copy is a working store.
	head := metas[0].Head
	err = c.Commit(t.Context(), []syncd.Record{{Append: &syncd.AppendRecord{Doc: "doc-0", Epoch: epoch, Op: &syncd.Op{
		Rev: head + 1, Kind: syncd.OpMerge, Payload: []byte(`{}`),
	}}}})
	if err != nil {
		t.Fatalf("commit to the restored copy: %v", err)
	}
}

func TestBackupCancelled(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "syncd.db"), boltstore.Options{NoSync: true})
	fill(t, s, 1, 5)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Backup(ctx, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Backup with a cancelled context: %v", err)
	}
	// Cancelled midway: the first write succeeds, the context ends, the
	// next write fails. A large operation makes the file span several of
	// the chunks Backup streams.
	big := fmt.Appendf(nil, `{"big":%q}`, strings.Repeat("b", 1<<20))
	err := s.Commit(t.Context(), []syncd.Record{{Append: &syncd.AppendRecord{Doc: "doc-0", Epoch: epoch, Op: &syncd.Op{
		Rev: 6, Kind: syncd.OpMerge, Payload: big,
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	w := writerFunc(func(p []byte) (int, error) { cancel(); return len(p), nil })
	if _, err := s.Backup(ctx, w); !errors.Is(err, context.Canceled) {
		t.Fatalf("Backup cancelled midway: %v", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestCloseTwice(t *testing.T) {
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "syncd.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Load(t.Context(), "doc"); !errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		t.Fatalf("Load after Close: %v", err)
	}
	if err := s.Commit(t.Context(), nil); err == nil {
		t.Fatal("Commit after Close succeeded")
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syncd.db")
	open(t, path, boltstore.Options{})
	start := time.Now()
	_, err := boltstore.Open(path, boltstore.Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, bbolt.ErrTimeout) || !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("second Open of a locked file: %v, want ErrLocked and ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open took %v", d)
	}
}

// TestOpenUnusablePath: a file that cannot be created is reported with its
// path once, not once per layer. (Its directory is a plain file, which
// fails even for root.)
func TestOpenUnusablePath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "syncd.db")
	_, err := boltstore.Open(path, boltstore.Options{})
	if err == nil {
		t.Fatal("Open under a plain file succeeded")
	}
	if n := strings.Count(err.Error(), path); n != 1 {
		t.Fatalf("error names the path %d times: %v", n, err)
	}
}

func TestOpenForeignLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syncd.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("info"))
		if err != nil {
			return err
		}
		return b.Put([]byte("layout"), []byte{99})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := boltstore.Open(path, boltstore.Options{}); err == nil {
		_ = s.Close()
		t.Fatal("Open accepted a file of another layout")
	}
}

// TestCommitCancelled checks that a cancelled context applies nothing.
func TestCommitCancelled(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "syncd.db"), boltstore.Options{NoSync: true})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "doc", Epoch: epoch}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with a cancelled context: %v", err)
	}
	if _, err := s.Load(t.Context(), "doc"); !errors.Is(err, syncd.ErrNotFound) {
		t.Fatalf("a cancelled Commit applied its batch: %v", err)
	}
}

// TestLongRunsAndTrim commits 1,200 operations of one document in one batch
// (the checkpoint splits them into runs of at most 512), reads pages across
// the runs' boundaries, then trims with a retention that cuts through a
// run, which must be rewritten from the new first revision.
func TestLongRunsAndTrim(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "syncd.db")
	s := open(t, path, boltstore.Options{NoSync: true, JournalOps: 1, Retention: 300})
	op := func(r int) syncd.Record {
		return syncd.Record{Append: &syncd.AppendRecord{Doc: "doc", Epoch: epoch, Op: &syncd.Op{
			Rev: revision.Rev(r), Kind: syncd.OpMerge, Payload: fmt.Appendf(nil, `{"n":%d}`, r), ClientID: "c1", ClientReqID: fmt.Sprintf("r-%04d", r),
		}}}
	}
	batch := []syncd.Record{{Create: &syncd.CreateRecord{Doc: "doc", Epoch: epoch}}}
	for r := 1; r <= 1200; r++ {
		batch = append(batch, op(r))
	}
	if err := s.Commit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ after, limit int }{{0, 1200}, {500, 30}, {511, 2}, {1023, 5}, {1199, 10}} {
		ops, err := s.ReadOps(ctx, "doc", epoch, revision.Rev(p.after), p.limit)
		want := min(p.limit, 1200-p.after)
		if err != nil || len(ops) != want {
			t.Fatalf("ReadOps(after %d, limit %d): %d ops, %v; want %d", p.after, p.limit, len(ops), err, want)
		}
		for i, op := range ops {
			if op.Rev != revision.Rev(p.after+1+i) || string(op.Payload) != fmt.Sprintf(`{"n":%d}`, op.Rev) {
				t.Fatalf("ReadOps(after %d): op %d is %d %s", p.after, i, op.Rev, op.Payload)
			}
		}
	}
	// A snapshot at 1,100 lets retention (300, trimmed past 318) cut the
	// log to 901 … 1,200: inside the second run (513 … 1,024).
	snap := syncd.Record{Snapshot: &syncd.SnapshotRecord{Doc: "doc", Epoch: epoch, Rev: 1100, State: []byte(`{"n":1100}`)}}
	if err := s.Commit(ctx, []syncd.Record{snap}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadOps(ctx, "doc", epoch, 899, 5); !errors.Is(err, syncd.ErrGone) {
		t.Fatalf("ReadOps before the new first revision: %v, want ErrGone", err)
	}
	ops, err := s.ReadOps(ctx, "doc", epoch, 900, 1000)
	if err != nil || len(ops) != 300 || ops[0].Rev != 901 {
		t.Fatalf("ReadOps after the trim: %d ops from %v, %v", len(ops), revsOf(ops), err)
	}
	if w, err := s.Watermark(ctx, "doc", "c1"); err != nil || w.ReqID != "r-1200" {
		t.Fatalf("Watermark: %q, %v", w.ReqID, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := boltstore.CheckFile(path); err != nil {
		t.Fatal(err)
	}
}

func revsOf(ops []*syncd.Op) []revision.Rev {
	var out []revision.Rev
	for _, op := range ops {
		out = append(out, op.Rev)
	}
	if len(out) > 3 {
		out = out[:3]
	}
	return out
}
