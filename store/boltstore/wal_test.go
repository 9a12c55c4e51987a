package boltstore

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// logged commits n single-append batches to "doc" and crashes the store,
// leaving them in the log only (its segment 0), and returns the offsets of
// the records in that segment.
func logged(t *testing.T, path string, n int) []int64 {
	t.Helper()
	// An interval far longer than the test: nothing is applied.
	s, err := Open(path, Options{NoSync: true, ApplyInterval: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "doc", Epoch: "e"}}}); err != nil {
		t.Fatal(err)
	}
	for r := 1; r <= n; r++ {
		if err := s.Commit(ctx, []syncd.Record{{Append: &syncd.AppendRecord{Doc: "doc", Epoch: "e", Op: mergeOp(revision.Rev(r))}}}); err != nil {
			t.Fatal(err)
		}
	}
	s.crashForTest()
	b, err := os.ReadFile(LogFiles(path)[0])
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for off := int64(0); off < int64(len(b)); {
		offs = append(offs, off)
		off += walHeaderSize + int64(binary.BigEndian.Uint32(b[off:]))
	}
	if len(offs) != n+1 {
		t.Fatalf("the log holds %d records, want %d", len(offs), n+1)
	}
	return offs
}

func headAfterOpen(t *testing.T, path string) (revision.Rev, error) {
	t.Helper()
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	sd, err := s.Load(context.Background(), "doc")
	if err != nil {
		t.Fatal(err)
	}
	return sd.Meta.Head, nil
}

// A record cut short at the end of the log is an unfinished write: the log
// ends before it and the store opens with everything before it.
func TestLogTornTailEndsLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syncd.db")
	offs := logged(t, path, 5)
	seg := LogFiles(path)[0]
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	last := offs[len(offs)-1]
	if err := os.Truncate(seg, last+(fi.Size()-last)/2); err != nil {
		t.Fatal(err)
	}
	head, err := headAfterOpen(t, path)
	if err != nil {
		t.Fatalf("open with a torn tail: %v", err)
	}
	if head != 4 {
		t.Fatalf("head %d after a torn fifth append, want 4", head)
	}
}

// A damaged record followed by valid ones is not a torn tail: records
// that were acknowledged are unreadable, and Open says so instead of
// starting without them.
func TestLogCorruptMiddleRefusesStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syncd.db")
	offs := logged(t, path, 5)
	seg := LogFiles(path)[0]
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[offs[2]+walHeaderSize+2] ^= 0x40 // the payload of the second append
	if err := os.WriteFile(seg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = headAfterOpen(t, path)
	if err == nil || !strings.Contains(err.Error(), "corrupt in its middle") {
		t.Fatalf("open with a damaged record before valid ones: %v, want a corruption error", err)
	}
}

// The log of another database (another id in its checksums) is never read
// as this one's, so a data directory whose bbolt file was replaced does
// not replay a stranger's records.
func TestLogOfAnotherDatabaseIgnored(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "syncd.db")
	logged(t, path, 3)
	other := filepath.Join(dir, "other.db")
	s, err := Open(other, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.replayed != 0 {
		t.Fatalf("replayed %d records of another database's log", s.replayed)
	}
}

// Every record kind survives the log's encoding.
func TestBatchEncodingRoundTrip(t *testing.T) {
	batch := []syncd.Record{
		{Create: &syncd.CreateRecord{Doc: "d", Epoch: "e", Time: -5}},
		{Append: &syncd.AppendRecord{Doc: "d", Epoch: "e", Op: &syncd.Op{Rev: 1, Kind: syncd.OpPatch, ClientID: "c", ClientReqID: "r", Time: 7, Payload: []byte(`[{"op":"add"}]`)}}},
		{Append: &syncd.AppendRecord{Doc: "d", Epoch: "e", Op: &syncd.Op{Rev: 2, Kind: "custom", Payload: []byte(strings.Repeat("x", 300))}}},
		{Decide: &syncd.DecideRecord{Doc: "d", ClientID: "c", ReqID: "r2", Code: "conflict"}},
		{Snapshot: &syncd.SnapshotRecord{Doc: "d", Epoch: "e", Rev: 2, State: []byte(`{"a":1}`)}},
		{Delete: &syncd.DeleteRecord{Doc: "d"}},
	}
	got, err := decodeBatch(appendBatch(nil, batch))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, batch) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, batch)
	}
}

// FuzzDecodeBatch: a damaged payload is an error, never a panic.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(appendBatch(nil, []syncd.Record{
		{Create: &syncd.CreateRecord{Doc: "d", Epoch: "e"}},
		{Append: &syncd.AppendRecord{Doc: "d", Epoch: "e", Op: mergeOp(1)}},
		{Snapshot: &syncd.SnapshotRecord{Doc: "d", Epoch: "e", Rev: 1, State: []byte(`{}`)}},
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeBatch(b)
	})
}

// The maintenance commands open a stopped server's file read-only; after
// a crash its newest batches are only in the log, and they must see them.
func TestOpenReadOnlyAppliesLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syncd.db")
	logged(t, path, 3)
	s, err := OpenReadOnly(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sd, err := s.Load(context.Background(), "doc")
	if err != nil || sd.Meta.Head != 3 {
		t.Fatalf("read-only open after a crash: %+v, %v; want head 3", sd, err)
	}
	if err := s.Commit(context.Background(), nil); err == nil {
		t.Fatal("Commit on a read-only store succeeded")
	}
}
