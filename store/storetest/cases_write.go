package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

func testCreateLoad(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").mustCommit()
	d := h.model.docs["doc"]
	sd := h.load("doc")
	want := syncd.DocMeta{Doc: "doc", Epoch: d.epoch, Head: 0, First: 1, Created: d.created, Updated: d.created}
	if sd.Meta != want {
		t.Errorf("meta %+v, want %+v", sd.Meta, want)
	}
	if sd.SnapshotRev != 0 || sd.SnapshotState != nil || len(sd.Tail) != 0 {
		t.Errorf("new document: snapshot %d %q, tail %v; want 0, nil, none", sd.SnapshotRev, sd.SnapshotState, revs(sd.Tail))
	}
}

func testLoadAbsent(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("other").mustCommit()
	if _, err := h.s.Load(h.ctx, "absent"); !errors.Is(err, syncd.ErrNotFound) {
		t.Errorf("Load of an absent document: %v, want ErrNotFound", err)
	}
	if _, err := h.readOps("absent", h.newEpoch(), 0, 10); !errors.Is(err, syncd.ErrNotFound) {
		t.Errorf("ReadOps of an absent document: %v, want ErrNotFound", err)
	}
	if w := h.watermark("absent", "c1"); w != "" {
		t.Errorf("watermark in an absent document: %q, want none", w)
	}
}

func testCreateExisting(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").mergeN("doc", 2).mustCommit()
	h.batch().create("doc").mustFail()
	// Twice in one batch: the second sees the first.
	h.batch().create("twice").create("twice").mustFail()
	if _, err := h.s.Load(h.ctx, "twice"); !errors.Is(err, syncd.ErrNotFound) {
		t.Errorf("a refused batch created its document: Load gives %v", err)
	}
}

func testEmptyBatch(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	if err := h.s.Commit(h.ctx, nil); err != nil {
		t.Errorf("Commit(nil): %v", err)
	}
	if err := h.s.Commit(h.ctx, []syncd.Record{}); err != nil {
		t.Errorf("Commit(empty): %v", err)
	}
}

func testAppendContiguous(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").mustCommit()
	for range 5 {
		h.batch().mergeN("doc", 1).mustCommit()
	}
	h.batch().mergeN("doc", 5).mustCommit()
	sd := h.load("doc")
	if sd.Meta.Head != 10 {
		t.Errorf("head %d after 10 appends", sd.Meta.Head)
	}
	if err := contiguous(sd.Tail, 0, 10); err != nil {
		t.Errorf("tail: %v", err)
	}
	if last := h.model.docs["doc"].ops[9].Time; sd.Meta.Updated != last {
		t.Errorf("Updated %d, want the newest op's time %d", sd.Meta.Updated, last)
	}
}

// testOpsKeptIntact checks that every field of an op comes back as written,
// for both kinds and for a large payload.
func testOpsKeptIntact(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	big := `{"big":"` + strings.Repeat("é✓x", 20_000) + `"}`
	h.batch().create("doc").
		op("doc", syncd.OpPatch, `[{"op":"add","path":"/list","value":[1,2.50,"three"]}]`, "client-1", "req-1").
		op("doc", syncd.OpMerge, `{"list":null,"nested":{"a":{"b":true}}}`, "", "").
		op("doc", syncd.OpMerge, big, "client-2", "").
		op("doc", syncd.OpPatch, `[{"op":"test","path":"/nested/a/b","value":true},{"op":"remove","path":"/nested/a"}]`, "", "req-only").
		mustCommit()
	want := h.model.docs["doc"].ops
	got, err := h.readOps("doc", h.epochOf("doc"), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("ReadOps returned %v, want 4 ops", revs(got))
	}
	for i := range got {
		if !opEqual(got[i], want[i]) {
			t.Errorf("op %d came back as %+v, want %+v", i+1, got[i], want[i])
		}
	}
}

func testAppendConflict(t *testing.T, open Opener) {
	bad := []struct {
		name string
		rec  func(h *harness) syncd.Record
	}{
		{"RevAhead", func(h *harness) syncd.Record { return appendAt(h, "doc", h.epochOf("doc"), 5) }},
		{"RevRepeated", func(h *harness) syncd.Record { return appendAt(h, "doc", h.epochOf("doc"), 3) }},
		{"RevZero", func(h *harness) syncd.Record { return appendAt(h, "doc", h.epochOf("doc"), 0) }},
		{"WrongEpoch", func(h *harness) syncd.Record { return appendAt(h, "doc", h.newEpoch(), 4) }},
		{"AbsentDoc", func(h *harness) syncd.Record { return appendAt(h, "absent", h.newEpoch(), 1) }},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, open, Options{})
			h.batch().create("doc").mergeN("doc", 3).mustCommit()
			err := h.batch().add(c.rec(h)).mustFail()
			if !errors.Is(err, syncd.ErrConflict) {
				t.Errorf("got %v, want ErrConflict", err)
			}
			// A later good append still works: the failure left nothing.
			h.batch().mergeN("doc", 1).mustCommit()
		})
	}
}

// appendAt is an Append record of a valid merge patch at rev of epoch,
// either of which may be wrong on purpose.
func appendAt(h *harness, doc string, epoch revision.Epoch, rev revision.Rev) syncd.Record {
	return syncd.Record{Append: &syncd.AppendRecord{Doc: doc, Epoch: epoch, Op: &syncd.Op{
		Rev: rev, Kind: syncd.OpMerge, Payload: []byte(`{"bad":true}`), Time: h.now(),
	}}}
}

func testBatchIsAtomic(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("a").mergeN("a", 2).create("b").mergeN("b", 2).mustCommit()
	if h.shared {
		testBatchIsAtomicPerDoc(t, h)
		return
	}
	before := h.load("a")

	// Every kind of record before the bad one, on several documents.
	err := h.batch().
		mergeN("a", 2).
		op("a", syncd.OpMerge, `{"c":1}`, "c1", "r-9").
		decide("a", "c2", "r-5").
		snapshot("a").
		create("c").mergeN("c", 1).
		delete("b").
		add(appendAt(h, "b", h.epochOf("b"), 7)).
		mustFail()
	if !errors.Is(err, syncd.ErrConflict) {
		t.Errorf("got %v, want ErrConflict", err)
	}
	after := h.load("a")
	if after.Meta != before.Meta || after.SnapshotRev != before.SnapshotRev || len(after.Tail) != len(before.Tail) {
		t.Errorf("document a changed by a refused batch: %+v, was %+v", after.Meta, before.Meta)
	}
	for _, c := range []string{"c1", "c2"} {
		if w := h.watermark("a", c); w != "" {
			t.Errorf("watermark of %s advanced to %q by a refused batch", c, w)
		}
	}
	if _, err := h.s.Load(h.ctx, "c"); !errors.Is(err, syncd.ErrNotFound) {
		t.Errorf("document c created by a refused batch: Load gives %v", err)
	}
	h.load("b") // still there
}

// testBatchIsAtomicPerDoc is testBatchIsAtomic for a shared store, whose
// Commit is atomic per document: the documents whose records are good are
// committed, the one with a conflict is left as it was, and the error
// names it alone.
func testBatchIsAtomicPerDoc(t *testing.T, h *harness) {
	beforeB := h.load("b")
	err := h.batch().
		mergeN("a", 2).
		op("a", syncd.OpMerge, `{"c":1}`, "c1", "r-9").
		decide("a", "c2", "r-5").
		snapshot("a").
		create("c").mergeN("c", 1).
		delete("b").
		add(appendAt(h, "b", h.epochOf("b"), 7)).
		mustFail() // batch.commit checks the PartialCommitError
	if !errors.Is(err, syncd.ErrConflict) {
		t.Errorf("got %v, want an error that is ErrConflict", err)
	}
	if a := h.load("a"); a.Meta.Head != 5 || a.SnapshotRev != 5 {
		t.Errorf("document a: head %d, snapshot %d; want 5, 5 (its records were good)", a.Meta.Head, a.SnapshotRev)
	}
	if w := h.watermark("a", "c1"); w != "r-9" {
		t.Errorf("watermark of c1 in a: %q, want r-9", w)
	}
	h.load("c")
	if b := h.load("b"); b.Meta != beforeB.Meta {
		t.Errorf("document b changed by its refused records: %+v, was %+v", b.Meta, beforeB.Meta)
	}
}

func testMalformedRecord(t *testing.T, open Opener) {
	bad := []struct {
		name string
		rec  syncd.Record
	}{
		{"NoField", syncd.Record{}},
		{"TwoFields", syncd.Record{Create: &syncd.CreateRecord{Doc: "x", Epoch: "01J00000000000000000000099"}, Delete: &syncd.DeleteRecord{Doc: "x"}}},
		{"AppendWithoutOp", syncd.Record{Append: &syncd.AppendRecord{Doc: "doc", Epoch: "01J00000000000000000000001"}}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, open, Options{})
			h.batch().create("doc").mustCommit()
			// batch.commit checks that the error is not ErrConflict.
			h.batch().mergeN("doc", 1).add(c.rec).mustFail()
		})
	}
}

func testBatchSeesEarlierRecords(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().
		create("a").mergeN("a", 3).snapshot("a").
		decide("a", "c1", "r-1").
		op("a", syncd.OpMerge, `{"by":"c1"}`, "c1", "r-2").
		create("b").mergeN("b", 2).delete("b").
		create("b").mergeN("b", 1).
		create("gone").delete("gone").
		mustCommit()
	a := h.load("a")
	if a.Meta.Head != 4 || a.SnapshotRev != 3 || len(a.Tail) != 1 {
		t.Errorf("a: head %d, snapshot %d, tail %v; want 4, 3, [4]", a.Meta.Head, a.SnapshotRev, revs(a.Tail))
	}
	if w := h.watermark("a", "c1"); w != "r-2" {
		t.Errorf("watermark %q, want r-2", w)
	}
	if b := h.load("b"); b.Meta.Head != 1 || b.Meta.Epoch != h.epochOf("b") {
		t.Errorf("b: %+v, want the second epoch %s at head 1", b.Meta, h.epochOf("b"))
	}
	if _, err := h.s.Load(h.ctx, "gone"); !errors.Is(err, syncd.ErrNotFound) {
		t.Errorf("created and deleted in one batch: Load gives %v", err)
	}
	// Delete, re-create and append in one batch.
	h.batch().delete("a").create("a").mergeN("a", 2).mustCommit()
	if a := h.load("a"); a.Meta.Head != 2 || a.SnapshotRev != 0 {
		t.Errorf("re-created a: head %d, snapshot %d; want 2, 0", a.Meta.Head, a.SnapshotRev)
	}
}
