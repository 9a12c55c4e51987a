package boltstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// TestReadOnlyReplayKeepsServersRetention: a server that keeps every
// operation (Retention -1, syncd -retention -1) crashes with appends in
// its log only; a maintenance command (backup -data, compact, inspect:
// OpenReadOnly with the zero Options) then replays that log tail. The
// replay must not trim the document's log under the default retention:
// the history the server was told to keep would be gone for good.
func TestReadOnlyReplayKeepsServersRetention(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "syncd.db")
	s, err := Open(path, Options{NoSync: true, Retention: -1, ApplyInterval: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	commit := func(recs []syncd.Record) {
		t.Helper()
		if err := s.Commit(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	commit([]syncd.Record{{Create: &syncd.CreateRecord{Doc: "doc", Epoch: "e"}}})
	// More operations than DefaultRetention and its sixteenth of slack.
	const n = DefaultRetention + DefaultRetention/16 + 2000
	rev := revision.Rev(0)
	for rev < n {
		batch := make([]syncd.Record, 0, 4000)
		for range 4000 {
			rev++
			batch = append(batch, syncd.Record{Append: &syncd.AppendRecord{Doc: "doc", Epoch: "e", Op: mergeOp(rev)}})
		}
		commit(batch)
		if err := s.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The last append and a snapshot at the head stay in the log only.
	rev++
	commit([]syncd.Record{
		{Append: &syncd.AppendRecord{Doc: "doc", Epoch: "e", Op: mergeOp(rev)}},
		{Snapshot: &syncd.SnapshotRecord{Doc: "doc", Epoch: "e", Rev: rev, State: []byte(`{}`)}},
	})
	s.crashForTest()

	ro, err := OpenReadOnly(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	sd, err := ro.Load(ctx, "doc")
	if err != nil {
		t.Fatal(err)
	}
	if sd.Meta.Head != rev || sd.Meta.First != 1 {
		t.Fatalf("after a read-only open replayed the log: ops %d … %d, want 1 … %d (the server keeps every operation)", sd.Meta.First, sd.Meta.Head, rev)
	}
}
