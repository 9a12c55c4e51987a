package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// The Outcomes clause of the contract: what became of a client's recent
// request ids, kept with the watermark.
func init() {
	cases = append(cases,
		testCase{"OutcomesRecorded", testOutcomesRecorded},
		testCase{"OutcomesKeepNewest", testOutcomesKeepNewest},
		testCase{"OutcomesGoWithDocument", testOutcomesGoWithDocument},
		testCase{"OutcomesAtomic", testOutcomesAtomic},
	)
	persistentCases = append(persistentCases,
		persistentCase{"OutcomesSurviveReopen", testOutcomesSurviveReopen},
	)
}

func (h *harness) outcomes(doc, client string) []revision.Outcome {
	h.t.Helper()
	outs, err := h.s.Outcomes(h.ctx, doc, client)
	if err != nil {
		h.t.Fatalf("Outcomes(%q, %q): %v", doc, client, err)
	}
	return outs
}

func (h *harness) wantOutcomes(doc, client string, want []revision.Outcome) {
	h.t.Helper()
	if got := h.outcomes(doc, client); !slices.Equal(got, want) {
		h.t.Errorf("outcomes of %s in %s:\n got %+v\nwant %+v", client, doc, got, want)
	}
}

func (b *batch) refuse(doc, client, req, code string) *batch {
	return b.add(syncd.Record{Decide: &syncd.DecideRecord{Doc: doc, ClientID: client, ReqID: req, Code: code}})
}

// testOutcomesRecorded: an Append with the client's ids is a commit at its
// revision, a Decide a refusal with its code (or "refused" without one),
// per document and client, oldest first; ops without ids add nothing,
// and neither does a Decide at or below the watermark (which a shared
// store refuses as a conflict).
func testOutcomesRecorded(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.wantOutcomes("absent", "c1", nil)
	h.batch().create("doc").create("other").
		op("doc", syncd.OpMerge, `{"a":1}`, "c1", "r1").
		merge("doc", `{"b":1}`).
		refuse("doc", "c1", "r2", "conflict").
		op("doc", syncd.OpMerge, `{"c":1}`, "c2", "r1").
		mustCommit()
	h.batch().decide("doc", "c1", "r3").
		op("doc", syncd.OpMerge, `{"a":2}`, "c1", "r4").
		mustCommit()
	_ = h.batch().refuse("doc", "c1", "r2", "invalid").commit() // below the watermark: not a decision
	h.wantOutcomes("doc", "c1", []revision.Outcome{
		{ReqID: "r1", Rev: 1}, {ReqID: "r2", Code: "conflict"}, {ReqID: "r3", Code: "refused"}, {ReqID: "r4", Rev: 4},
	})
	h.wantOutcomes("doc", "c2", []revision.Outcome{{ReqID: "r1", Rev: 3}})
	h.wantOutcomes("other", "c1", nil)
	h.wantOutcomes("doc", "c3", nil)
	if w := h.watermark("doc", "c1"); w != "r4" {
		t.Errorf("watermark %q, want r4: the newest outcome is the watermark's", w)
	}
}

// testOutcomesKeepNewest: beyond revision.MaxOutcomes the oldest go, within
// one batch and across batches.
func testOutcomesKeepNewest(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").mustCommit()
	var want []revision.Outcome
	n := revision.MaxOutcomes + 5
	b := h.batch()
	for i := 1; i <= n; i++ {
		req := fmt.Sprintf("r%03d", i)
		if i%3 == 0 {
			b.refuse("doc", "c1", req, "precondition")
			want = append(want, revision.Outcome{ReqID: req, Code: "precondition"})
		} else {
			rev := b.next("doc")
			b.op("doc", syncd.OpMerge, `{"a":1}`, "c1", req)
			want = append(want, revision.Outcome{ReqID: req, Rev: rev})
		}
		if i == n/2 { // half in one batch, half in many
			b.mustCommit()
			b = h.batch()
		} else if i > n/2 {
			b.mustCommit()
			b = h.batch()
		}
	}
	h.wantOutcomes("doc", "c1", want[len(want)-revision.MaxOutcomes:])
}

// testOutcomesGoWithDocument: Delete drops them, and a re-created document
// (a new epoch) starts without any.
func testOutcomesGoWithDocument(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").op("doc", syncd.OpMerge, `{"a":1}`, "c1", "r1").mustCommit()
	h.batch().delete("doc").mustCommit()
	h.wantOutcomes("doc", "c1", nil)
	// Deleted and re-created in one batch, with a new decision after.
	h.batch().create("doc").op("doc", syncd.OpMerge, `{"a":1}`, "c1", "r1").mustCommit()
	h.batch().delete("doc").create("doc").refuse("doc", "c1", "r0", "epoch").mustCommit()
	h.wantOutcomes("doc", "c1", []revision.Outcome{{ReqID: "r0", Code: "epoch"}})
}

// testOutcomesAtomic: a failed batch records none.
func testOutcomesAtomic(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").mustCommit()
	b := h.batch().refuse("doc", "c1", "r1", "conflict").op("doc", syncd.OpMerge, `{"a":1}`, "c1", "r2")
	b.add(syncd.Record{Append: &syncd.AppendRecord{Doc: "doc", Epoch: b.epoch("doc"), Op: &syncd.Op{Rev: 9, Kind: syncd.OpMerge, Payload: []byte(`{}`), Time: h.now()}}})
	b.mustFail()
	h.wantOutcomes("doc", "c1", nil)
}

func testOutcomesSurviveReopen(t *testing.T, open Opener, reopen Reopener) {
	h := newHarness(t, open, Options{})
	h.batch().create("doc").op("doc", syncd.OpMerge, `{"a":1}`, "c1", "r1").refuse("doc", "c1", "r2", "too_large").mustCommit()
	h.reopen(t, reopen)
	h.wantOutcomes("doc", "c1", []revision.Outcome{{ReqID: "r1", Rev: 1}, {ReqID: "r2", Code: "too_large"}})
}
