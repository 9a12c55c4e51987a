package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

func testReadOps(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("empty").create("doc").mergeN("doc", 10).mustCommit()
	epoch := h.epochOf("doc")
	pages := []struct {
		after revision.Rev
		limit int
		want  []revision.Rev
	}{
		{0, 3, []revision.Rev{1, 2, 3}},
		{3, 3, []revision.Rev{4, 5, 6}},
		{9, 3, []revision.Rev{10}},
		{0, 100, []revision.Rev{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{4, 1, []revision.Rev{5}},
		{10, 5, nil}, // at the head: nothing, not an error
		{12, 5, nil}, // beyond the head: nothing either
	}
	for _, p := range pages {
		ops, err := h.readOps("doc", epoch, p.after, p.limit)
		if err != nil {
			t.Errorf("ReadOps(after %d, limit %d): %v", p.after, p.limit, err)
			continue
		}
		if !slices.Equal(revs(ops), p.want) {
			t.Errorf("ReadOps(after %d, limit %d) = %v, want %v", p.after, p.limit, revs(ops), p.want)
		}
	}
	if ops, err := h.readOps("empty", h.epochOf("empty"), 0, 5); err != nil || len(ops) != 0 {
		t.Errorf("ReadOps of a document at revision 0: %v, %v; want nothing", revs(ops), err)
	}
	if _, err := h.readOps("doc", h.newEpoch(), 0, 5); !errors.Is(err, syncd.ErrNotFound) {
		t.Errorf("ReadOps with another epoch: %v, want ErrNotFound", err)
	}
	if _, err := h.readOps("absent", epoch, 0, 5); !errors.Is(err, syncd.ErrNotFound) {
		t.Errorf("ReadOps of an absent document: %v, want ErrNotFound", err)
	}
	// Limit 0 reads nothing, and still tells absent from present.
	for _, after := range []revision.Rev{0, 4, 10, 12} {
		if ops, err := h.readOps("doc", epoch, after, 0); err != nil || len(ops) != 0 {
			t.Errorf("ReadOps(after %d, limit 0) = %v, %v; want nothing", after, revs(ops), err)
		}
	}
	if _, err := h.readOps("absent", epoch, 0, 0); !errors.Is(err, syncd.ErrNotFound) {
		t.Errorf("ReadOps(limit 0) of an absent document: %v, want ErrNotFound", err)
	}
	if _, err := h.readOps("doc", epoch, 0, -1); err == nil {
		t.Errorf("ReadOps(limit -1): no error")
	}
}

func testWatermarkByAppend(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").op("doc", syncd.OpMerge, `{"a":1}`, "c1", "r-1").mustCommit()
	if w := h.watermark("doc", "c1"); w != "r-1" {
		t.Errorf("after an append with r-1: %q", w)
	}
	h.batch().op("doc", syncd.OpMerge, `{"a":2}`, "c1", "r-2").mustCommit()
	if w := h.watermark("doc", "c1"); w != "r-2" {
		t.Errorf("after an append with r-2: %q", w)
	}
	// An op without a request id, or without a client id, decides nothing.
	h.batch().op("doc", syncd.OpMerge, `{"a":3}`, "c1", "").op("doc", syncd.OpMerge, `{"a":4}`, "", "r-9").mustCommit()
	if w := h.watermark("doc", "c1"); w != "r-2" {
		t.Errorf("after ops without ids: %q, want r-2", w)
	}
	if w := h.watermark("doc", ""); w != "" {
		t.Errorf("watermark of the empty client id: %q, want none", w)
	}
}

func testWatermarkByDecide(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").decide("doc", "c1", "r-5").mustCommit()
	if w := h.watermark("doc", "c1"); w != "r-5" {
		t.Errorf("after deciding r-5: %q", w)
	}
	h.batch().decide("doc", "c1", "r-7").mustCommit()
	if w := h.watermark("doc", "c1"); w != "r-7" {
		t.Errorf("after deciding r-7: %q", w)
	}
	if sd := h.load("doc"); sd.Meta.Head != 0 {
		t.Errorf("Decide changed the head to %d", sd.Meta.Head)
	}
}

// testWatermarkNeverDecreases: a record of a request at or below the
// client's watermark leaves the watermark where it is. A single-writer
// store takes the record; a shared store refuses it as a conflict
// (another writer decided the request), and the model says which.
func testWatermarkNeverDecreases(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	// Request ids order by length first: r-9 < r-10.
	h.batch().create("doc").decide("doc", "c1", "r-10").mustCommit()
	_ = h.batch().decide("doc", "c1", "r-9").commit()
	_ = h.batch().op("doc", syncd.OpMerge, `{"a":1}`, "c1", "r-2").commit()
	_ = h.batch().decide("doc", "c1", "r-10").commit()
	if w := h.watermark("doc", "c1"); w != "r-10" {
		t.Errorf("watermark %q after lower ids, want r-10", w)
	}
	// ULIDs, in one batch, the highest first: a single-writer store keeps
	// the highest whatever the order; a shared store refuses the batch.
	_ = h.batch().
		decide("doc", "c2", "01JD0000000000000000000002").
		op("doc", syncd.OpMerge, `{"a":2}`, "c2", "01JD0000000000000000000001").
		decide("doc", "c2", "01JC0000000000000000000009").
		commit()
	want := "01JD0000000000000000000002"
	if h.shared {
		want = ""
	}
	if w := h.watermark("doc", "c2"); w != want {
		t.Errorf("watermark %q, want %q", w, want)
	}
}

func testWatermarkPerDocAndClient(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("a").create("b").
		decide("a", "c1", "r-1").
		op("a", syncd.OpMerge, `{"x":1}`, "c2", "r-7").
		decide("b", "c1", "r-3").
		mustCommit()
	for _, c := range []struct{ doc, client, want string }{
		{"a", "c1", "r-1"}, {"a", "c2", "r-7"}, {"b", "c1", "r-3"}, {"b", "c2", ""}, {"a", "c3", ""},
	} {
		if w := h.watermark(c.doc, c.client); w != c.want {
			t.Errorf("watermark of %s in %s: %q, want %q", c.client, c.doc, w, c.want)
		}
	}
}

func testDecideAbsentDoc(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().decide("ghost", "c1", "r-1").mustCommit()
	if w := h.watermark("ghost", "c1"); w != "" {
		t.Errorf("Decide on an absent document stored %q", w)
	}
	if _, err := h.s.Load(h.ctx, "ghost"); !errors.Is(err, syncd.ErrNotFound) {
		t.Errorf("Decide created the document: Load gives %v", err)
	}
	// And it does not linger to reappear with the document.
	h.batch().create("ghost").mustCommit()
	if w := h.watermark("ghost", "c1"); w != "" {
		t.Errorf("a Decide before Create left %q", w)
	}
}

func testSnapshotAndTail(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").mergeN("doc", 5).snapshot("doc").mustCommit()
	sd := h.load("doc")
	if sd.SnapshotRev != 5 || len(sd.Tail) != 0 || !bytes.Equal(sd.SnapshotState, h.model.docs["doc"].stateJSON()) {
		t.Errorf("snapshot at %d %s, tail %v; want 5, the state, none", sd.SnapshotRev, sd.SnapshotState, revs(sd.Tail))
	}
	h.batch().mergeN("doc", 3).mustCommit()
	sd = h.load("doc")
	if sd.SnapshotRev != 5 || !slices.Equal(revs(sd.Tail), []revision.Rev{6, 7, 8}) {
		t.Errorf("snapshot at %d, tail %v; want 5, [6 7 8]", sd.SnapshotRev, revs(sd.Tail))
	}
	// A snapshot in the middle of a batch is at the revision reached there.
	h.batch().mergeN("doc", 2).snapshot("doc").mergeN("doc", 1).mustCommit()
	sd = h.load("doc")
	if sd.SnapshotRev != 10 || !slices.Equal(revs(sd.Tail), []revision.Rev{11}) {
		t.Errorf("snapshot at %d, tail %v; want 10, [11]", sd.SnapshotRev, revs(sd.Tail))
	}
}

func testSnapshotKeepsNewest(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").mergeN("doc", 3).mustCommit()
	at3 := h.model.docs["doc"].stateJSON()
	h.batch().mergeN("doc", 3).snapshot("doc").mustCommit()
	// A true snapshot at 3, written after the one at 6, must not replace it.
	h.batch().add(syncd.Record{Snapshot: &syncd.SnapshotRecord{Doc: "doc", Epoch: h.epochOf("doc"), Rev: 3, State: at3}}).mustCommit()
	if sd := h.load("doc"); sd.SnapshotRev != 6 {
		t.Errorf("snapshot at %d after writing 6 then 3; want the newest, 6", sd.SnapshotRev)
	}
	// Rewriting the snapshot at the same revision is allowed.
	h.batch().snapshot("doc").mustCommit()
}

func testSnapshotConflict(t *testing.T, open Opener) {
	bad := []struct {
		name string
		rec  func(h *harness) *syncd.SnapshotRecord
	}{
		{"AbsentDoc", func(h *harness) *syncd.SnapshotRecord {
			return &syncd.SnapshotRecord{Doc: "absent", Epoch: h.newEpoch(), Rev: 0, State: []byte(`{}`)}
		}},
		{"WrongEpoch", func(h *harness) *syncd.SnapshotRecord {
			return &syncd.SnapshotRecord{Doc: "doc", Epoch: h.newEpoch(), Rev: 2, State: h.model.docs["doc"].stateJSON()}
		}},
		{"BeyondHead", func(h *harness) *syncd.SnapshotRecord {
			return &syncd.SnapshotRecord{Doc: "doc", Epoch: h.epochOf("doc"), Rev: 3, State: h.model.docs["doc"].stateJSON()}
		}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, open, Options{})
			h.batch().create("doc").mergeN("doc", 2).mustCommit()
			if err := h.batch().add(syncd.Record{Snapshot: c.rec(h)}).mustFail(); !errors.Is(err, syncd.ErrConflict) {
				t.Errorf("got %v, want ErrConflict", err)
			}
		})
	}
}

// testSnapshotStateCopied checks that the store owns its copy of a
// snapshot's bytes, both those given to Commit and those Load returns.
func testSnapshotStateCopied(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").mergeN("doc", 2).mustCommit()
	state := h.model.docs["doc"].stateJSON()
	h.batch().add(syncd.Record{Snapshot: &syncd.SnapshotRecord{Doc: "doc", Epoch: h.epochOf("doc"), Rev: 2, State: state}}).mustCommit()
	for i := range state {
		state[i] = 'x'
	}
	sd := h.load("doc")
	for i := range sd.SnapshotState {
		sd.SnapshotState[i] = 'y'
	}
	// The check after the test replays the stored snapshot.
}

func testRetentionTrims(t *testing.T, open Opener) {
	const retention = 8
	h := newHarness(t, open, Options{Retention: retention})
	h.batch().create("doc").mustCommit()
	for range 30 {
		h.batch().mergeN("doc", 1).mustCommit()
	}
	// No snapshot yet: nothing may go (the model check enforces First 1).
	if sd := h.load("doc"); sd.Meta.First != 1 {
		t.Fatalf("log trimmed to %d with no snapshot", sd.Meta.First)
	}
	for i := range 60 {
		b := h.batch().mergeN("doc", 1)
		if i%4 == 0 {
			b.snapshot("doc")
		}
		b.mustCommit()
		sd := h.load("doc")
		n := sd.Meta.Head - sd.Meta.First + 1
		if n < retention {
			t.Fatalf("at head %d the log holds %d ops, fewer than the retention %d", sd.Meta.Head, n, retention)
		}
		if i > 40 && n > 2*retention+4 {
			t.Fatalf("at head %d, with a snapshot at %d, the log still holds %d ops (retention %d)", sd.Meta.Head, sd.SnapshotRev, n, retention)
		}
	}
	sd := h.load("doc")
	first := sd.Meta.First
	if _, err := h.readOps("doc", h.epochOf("doc"), first-2, 10); !errors.Is(err, syncd.ErrGone) {
		t.Errorf("ReadOps before the log's start %d: %v, want ErrGone", first, err)
	}
	if _, err := h.readOps("doc", h.epochOf("doc"), 0, 10); !errors.Is(err, syncd.ErrGone) {
		t.Errorf("ReadOps from 0 after trimming: %v, want ErrGone", err)
	}
	ops, err := h.readOps("doc", h.epochOf("doc"), first-1, 100)
	if err != nil || len(ops) == 0 || ops[0].Rev != first || ops[len(ops)-1].Rev != sd.Meta.Head {
		t.Errorf("ReadOps from the log's start: %v, %v", revs(ops), err)
	}
	// Limit 0 only asks whether the operations are still held.
	if _, err := h.readOps("doc", h.epochOf("doc"), first-2, 0); !errors.Is(err, syncd.ErrGone) {
		t.Errorf("ReadOps(limit 0) before the log's start %d: %v, want ErrGone", first, err)
	}
	if ops, err := h.readOps("doc", h.epochOf("doc"), first-1, 0); err != nil || len(ops) != 0 {
		t.Errorf("ReadOps(limit 0) from the log's start: %v, %v; want nothing, no error", revs(ops), err)
	}
}

func testRetentionKeepsSnapshotTail(t *testing.T, open Opener) {
	const retention = 4
	h := newHarness(t, open, Options{Retention: retention})
	h.batch().create("doc").mergeN("doc", 10).snapshot("doc").mustCommit()
	for range 50 {
		h.batch().mergeN("doc", 1).mustCommit()
	}
	sd := h.load("doc")
	if sd.Meta.First > 11 {
		t.Fatalf("log trimmed to %d, past the snapshot at 10", sd.Meta.First)
	}
	if ops, err := h.readOps("doc", h.epochOf("doc"), 10, 100); err != nil || len(ops) != 50 {
		t.Errorf("ReadOps after the snapshot: %d ops, %v; want 50", len(ops), err)
	}
	// A newer snapshot lets retention catch up.
	h.batch().snapshot("doc").mergeN("doc", 1).mustCommit()
	if sd := h.load("doc"); sd.Meta.First <= 11 {
		t.Errorf("log still starts at %d after a snapshot at 60 (retention %d)", sd.Meta.First, retention)
	}
}

func testDelete(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").create("other").
		op("doc", syncd.OpMerge, `{"a":1}`, "c1", "r-1").
		mergeN("doc", 3).snapshot("doc").mergeN("doc", 1).
		decide("doc", "c2", "r-4").decide("other", "c1", "r-8").
		mustCommit()
	epoch := h.epochOf("doc")
	h.batch().delete("doc").mustCommit()
	if _, err := h.s.Load(h.ctx, "doc"); !errors.Is(err, syncd.ErrNotFound) {
		t.Errorf("Load after Delete: %v, want ErrNotFound", err)
	}
	if _, err := h.readOps("doc", epoch, 0, 10); !errors.Is(err, syncd.ErrNotFound) {
		t.Errorf("ReadOps after Delete: %v, want ErrNotFound", err)
	}
	for _, c := range []string{"c1", "c2"} {
		if w := h.watermark("doc", c); w != "" {
			t.Errorf("watermark of %s survived Delete: %q", c, w)
		}
	}
	if w := h.watermark("other", "c1"); w != "r-8" {
		t.Errorf("Delete of doc changed other's watermark to %q", w)
	}
	metas, err := h.s.List(h.ctx, "", 10)
	if err != nil || len(metas) != 1 || metas[0].Doc != "other" {
		t.Errorf("List after Delete: %v, %v; want only other", metas, err)
	}
}

func testDeleteAbsent(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().delete("ghost").mustCommit()
	h.batch().create("doc").delete("doc").delete("doc").mustCommit()
}

func testRecreateNewEpoch(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").op("doc", syncd.OpMerge, `{"a":1}`, "c1", "r-3").mergeN("doc", 4).snapshot("doc").mustCommit()
	old := h.epochOf("doc")
	h.batch().delete("doc").mustCommit()
	h.batch().create("doc").mustCommit()
	sd := h.load("doc")
	if sd.Meta.Epoch == old || sd.Meta.Head != 0 || sd.Meta.First != 1 || sd.SnapshotRev != 0 || sd.SnapshotState != nil || len(sd.Tail) != 0 {
		t.Errorf("re-created document: %+v, snapshot %d %q, tail %v; want a new epoch at 0, nothing else", sd.Meta, sd.SnapshotRev, sd.SnapshotState, revs(sd.Tail))
	}
	if w := h.watermark("doc", "c1"); w != "" {
		t.Errorf("watermark %q survived into the new epoch", w)
	}
	if _, err := h.readOps("doc", old, 0, 10); !errors.Is(err, syncd.ErrNotFound) {
		t.Errorf("ReadOps of the old epoch: %v, want ErrNotFound", err)
	}
	if err := h.batch().add(appendAt(h, "doc", old, 1)).mustFail(); !errors.Is(err, syncd.ErrConflict) {
		t.Errorf("append with the old epoch: %v, want ErrConflict", err)
	}
	h.batch().mergeN("doc", 2).mustCommit()
}

func testList(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	ids := []string{"b", "a", "a/1", "a:2", "c.d", "A", "z-9", "m_1", "a-"}
	for i, id := range ids {
		h.batch().create(id).mergeN(id, i).mustCommit()
	}
	sorted := slices.Sorted(slices.Values(ids))
	all, err := h.s.List(h.ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range all {
		got = append(got, m.Doc)
		d := h.model.docs[m.Doc]
		if d == nil || m.Epoch != d.epoch || m.Head != d.head() {
			t.Errorf("List entry %+v does not match the document", m)
		}
	}
	if !slices.Equal(got, sorted) {
		t.Errorf("List = %v, want %v", got, sorted)
	}
	// Paging by the last id returned.
	got = nil
	for after := ""; ; {
		page, err := h.s.List(h.ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 2 {
			t.Fatalf("List(limit 2) returned %d", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			got = append(got, m.Doc)
		}
		after = page[len(page)-1].Doc
	}
	if !slices.Equal(got, sorted) {
		t.Errorf("List paged by 2 = %v, want %v", got, sorted)
	}
	for _, c := range []struct {
		after string
		want  []string
	}{
		{"a", sorted[slices.Index(sorted, "a")+1:]},
		{"b0", []string{"c.d", "m_1", "z-9"}},
		{"zz", nil},
	} {
		page, err := h.s.List(h.ctx, c.after, 100)
		if err != nil {
			t.Fatal(err)
		}
		got = nil
		for _, m := range page {
			got = append(got, m.Doc)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("List(after %q) = %v, want %v", c.after, got, c.want)
		}
	}
}
