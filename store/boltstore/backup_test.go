package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/boltstore"
)

// TestBackupStalledReaderDoesNotBlockGrowth: a backup whose reader stops
// reading must not hold the read transaction, so commits that grow (and so
// remap) the file go on. bbolt grows a file below 16 MiB to its new memory
// map's size, so the file growing past its size at the backup's start is
// the remap this test needs; it commits until that happens.
func TestBackupStalledReaderDoesNotBlockGrowth(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "syncd.db")
	s := open(t, path, boltstore.Options{NoSync: true})
	fill(t, s, 2, 20)
	before := fileSize(t, path)

	stalled := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	first := true
	go func() {
		_, err := s.Backup(context.Background(), writerFunc(func(p []byte) (int, error) {
			if first {
				first = false
				close(stalled)
				<-release // the reader stops reading
			}
			return len(p), nil
		}))
		done <- err
	}()
	select {
	case <-stalled:
	case <-time.After(10 * time.Second):
		t.Fatal("backup never wrote")
	}

	payload := fmt.Appendf(nil, `{"pad":%q}`, strings.Repeat("p", 64<<10))
	grown := false
	for r := 21; r <= 21+200 && !grown; r++ {
		committed := make(chan error, 1)
		go func() {
			err := s.Commit(context.Background(), []syncd.Record{{Append: &syncd.AppendRecord{Doc: "doc-0", Epoch: epoch, Op: &syncd.Op{
				Rev: revision.Rev(r), Kind: syncd.OpMerge, Payload: payload,
			}}}})
			if err == nil {
				// The applier's transaction is the one that grows the
				// file; it must not wait behind the backup either.
				err = s.Checkpoint(context.Background())
			}
			committed <- err
		}()
		select {
		case err := <-committed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Second):
			close(release) // let the commit and the backup finish before failing
			<-committed
			<-done
			t.Fatalf("commit %d waited over a second behind a stalled backup", r)
		}
		grown = fileSize(t, path) > before
	}
	if !grown {
		t.Fatalf("the file never grew past %d bytes: the test did not force a remap", before)
	}
	// One backup at a time: a second one fails at once.
	if _, err := s.Backup(t.Context(), io.Discard); !errors.Is(err, boltstore.ErrBackupRunning) {
		t.Fatalf("a second backup while one runs: %v, want ErrBackupRunning", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The staging file is gone.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "syncd.db" && !isLogFile(e.Name()) {
			t.Errorf("left behind in the data directory: %s", e.Name())
		}
	}
}

// TestBackupFailingWriterRemovesStaging: a writer that fails still leaves
// no staging file.
func TestBackupFailingWriterRemovesStaging(t *testing.T) {
	dir := t.TempDir()
	s := open(t, filepath.Join(dir, "syncd.db"), boltstore.Options{NoSync: true})
	fill(t, s, 1, 5)
	if _, err := s.Backup(t.Context(), writerFunc(func([]byte) (int, error) { return 0, io.ErrClosedPipe })); err == nil {
		t.Fatal("Backup to a failing writer succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "syncd.db" && !isLogFile(e.Name()) {
			t.Fatalf("data directory holds %v, want only syncd.db and its log", entries)
		}
	}
}

// isLogFile: name is one of the write-ahead log's segments of syncd.db.
func isLogFile(name string) bool {
	for _, f := range boltstore.LogFiles("syncd.db") {
		if name == f {
			return true
		}
	}
	return false
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
