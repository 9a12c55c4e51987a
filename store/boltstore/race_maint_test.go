package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/boltstore"
)

// TestOpenDuringCompactGetsCompactedFile: a server started while `syncd
// compact` runs waits for the lock Compact holds (Options.Timeout), and
// Compact releases that lock only after renaming the compacted file over
// the path. The waiting Open must then run on the file now at the path,
// not on the old, unlinked one: everything it writes there would be gone
// at the next start (side writes at once; commits as soon as the log has
// handed over past them, and the next Open refuses to start).
func TestOpenDuringCompactGetsCompactedFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "syncd.db")
	// A file with much free space (a big document, deleted), so that
	// compaction takes a while and replaces the file.
	st, err := boltstore.Open(path, boltstore.Options{NoSync: true, ApplyInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 64<<10)
	for i := range 200 {
		doc := fmt.Sprintf("d%03d", i)
		recs := []syncd.Record{
			{Create: &syncd.CreateRecord{Doc: doc, Epoch: "e"}},
			{Snapshot: &syncd.SnapshotRecord{Doc: doc, Epoch: "e", Rev: 0, State: []byte(fmt.Sprintf("%q", big))}},
		}
		if err := st.Commit(ctx, recs); err != nil {
			t.Fatal(err)
		}
		if err := st.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		if i%10 != 0 {
			if err := st.Commit(ctx, []syncd.Record{{Delete: &syncd.DeleteRecord{Doc: fmt.Sprintf("d%03d", i)}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	type result struct {
		before, after int64
		err           error
	}
	done := make(chan result, 1)
	go func() {
		b, a, err := boltstore.Compact(ctx, path)
		done <- result{b, a, err}
	}()
	// Compact has the old file open (and locked) once it creates its copy.
	for {
		if _, err := os.Stat(path + ".compact"); err == nil {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("compact finished before the server started: %+v", r)
		default:
		}
		time.Sleep(100 * time.Microsecond)
	}
	// The server starting now waits for Compact's lock.
	srv, err := boltstore.Open(path, boltstore.Options{NoSync: true, Timeout: 30 * time.Second, LogSegmentBytes: 1, ApplyInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.after >= r.before {
		srv.Close()
		t.Fatalf("compact: %d → %d, %v: want a smaller file", r.before, r.after, r.err)
	}
	if err := srv.SideWrite(ctx, []syncd.SideWrite{{Space: "s", Key: "k", Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "late", Epoch: "e"}}}); err != nil {
		t.Fatal(err)
	}
	for rev := revision.Rev(1); rev <= 5; rev++ {
		if err := srv.Commit(ctx, []syncd.Record{{Append: &syncd.AppendRecord{Doc: "late", Epoch: "e", Op: &syncd.Op{Rev: rev, Kind: syncd.OpPatch, Payload: []byte(`[]`)}}}}); err != nil {
			t.Fatal(err)
		}
		if err := srv.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	again, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatalf("the next start after a server ran during compaction: %v", err)
	}
	defer again.Close()
	if _, err := again.SideGet(ctx, "s", "k"); err != nil {
		t.Errorf("side write of the server started during compaction: %v", err)
	}
	if sd, err := again.Load(ctx, "late"); err != nil || sd.Meta.Head != 5 {
		t.Errorf("document committed by the server started during compaction: %v", errors.Join(err))
	}
}

// TestOpenReadOnlyNegativeTimeoutWaits: Options.Timeout says a negative
// value waits forever for the lock. OpenReadOnly passed it to bbolt as is,
// where a negative timeout gives up at the first try.
func TestOpenReadOnlyNegativeTimeoutWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syncd.db")
	running, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, func() { running.Close() })
	ro, err := boltstore.OpenReadOnly(path, boltstore.Options{Timeout: -1})
	if err != nil {
		running.Close()
		t.Fatalf("OpenReadOnly with a negative timeout, on a file locked for 300ms: %v, want it to wait", err)
	}
	ro.Close()
}
