package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/deltasync/syncd"
)

var persistentCases = []persistentCase{
	{"ReopenKeepsEverything", testReopenKeepsEverything},
	{"ReopenThenCommit", testReopenThenCommit},
	{"ReopenKeepsClients", testReopenKeepsClients},
	{"SideStoreReopen", testSideStoreReopen},
}

// testReopenKeepsEverything fills a store with every kind of record, then
// checks that a reopened store returns exactly what the old one did.
func testReopenKeepsEverything(t *testing.T, open Opener, reopen Reopener) {
	const retention = 8
	h := newHarness(t, open, Options{Retention: retention})
	// trimmed: a log trimmed behind snapshots; plain: no snapshot, with
	// watermarks; deleted: gone; recreated: a second epoch.
	h.batch().create("trimmed").create("plain").create("deleted").create("recreated").mustCommit()
	for i := range 40 {
		b := h.batch().mergeN("trimmed", 1).op("plain", syncd.OpMerge, `{"p":1}`, "c1", "")
		if i%5 == 0 {
			b.snapshot("trimmed").decide("plain", "c2", "r-"+string(rune('a'+i/5)))
		}
		b.mustCommit()
	}
	h.batch().op("plain", syncd.OpPatch, `[{"op":"add","path":"/q","value":"ü"}]`, "c1", "r-100").
		mergeN("deleted", 3).mergeN("recreated", 2).mustCommit()
	h.batch().delete("deleted").delete("recreated").create("recreated").mergeN("recreated", 1).mustCommit()
	if sd := h.load("trimmed"); sd.Meta.First == 1 {
		t.Fatal("the setup did not trim the log")
	}

	ids := []string{"trimmed", "plain", "recreated"}
	before := make(map[string]*syncd.StoredDoc)
	for _, id := range ids {
		before[id] = h.load(id)
	}
	marks := map[string]string{"c1": h.watermark("plain", "c1"), "c2": h.watermark("plain", "c2")}

	h.reopen(t, reopen)

	for _, id := range ids {
		after := h.load(id)
		if err := sameStoredDoc(before[id], after); err != nil {
			t.Errorf("%s after reopening: %v", id, err)
		}
	}
	for c, w := range marks {
		if got := h.watermark("plain", c); got != w {
			t.Errorf("watermark of %s after reopening: %q, want %q", c, got, w)
		}
	}
	if _, err := h.s.Load(h.ctx, "deleted"); !errors.Is(err, syncd.ErrNotFound) {
		t.Errorf("a deleted document after reopening: %v, want ErrNotFound", err)
	}
}

// testReopenThenCommit checks that a reopened store goes on where the old
// one stopped, conflict checks included.
func testReopenThenCommit(t *testing.T, open Opener, reopen Reopener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").mergeN("doc", 3).snapshot("doc").mergeN("doc", 1).mustCommit()
	h.reopen(t, reopen)
	if err := h.batch().add(appendAt(h, "doc", h.epochOf("doc"), 4)).mustFail(); !errors.Is(err, syncd.ErrConflict) {
		t.Errorf("a repeated revision after reopening: %v, want ErrConflict", err)
	}
	h.batch().create("doc").mustFail()
	h.batch().mergeN("doc", 2).snapshot("doc").create("new").mustCommit()
	h.reopen(t, reopen)
	h.batch().mergeN("doc", 1).mergeN("new", 1).mustCommit()
}

func sameStoredDoc(a, b *syncd.StoredDoc) error {
	if a.Meta != b.Meta {
		return fmt.Errorf("meta %+v, was %+v", b.Meta, a.Meta)
	}
	if a.SnapshotRev != b.SnapshotRev || !bytes.Equal(a.SnapshotState, b.SnapshotState) {
		return fmt.Errorf("snapshot at %d %s, was at %d %s", b.SnapshotRev, b.SnapshotState, a.SnapshotRev, a.SnapshotState)
	}
	if len(a.Tail) != len(b.Tail) {
		return fmt.Errorf("tail %v, was %v", revs(b.Tail), revs(a.Tail))
	}
	for i := range a.Tail {
		if !opEqual(a.Tail[i], b.Tail[i]) {
			return fmt.Errorf("op %+v, was %+v", b.Tail[i], a.Tail[i])
		}
	}
	return nil
}
