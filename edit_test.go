package syncd_test

import (
	"encoding/json"
	"testing"

	"github.com/deltasync/syncd"
)

// Every error CommitAsync reports names the document, the request id and
// the head, whatever stage refused the edit, so that the server never has
// to ask the engine for the head to label a refusal.
func TestCommitErrorsCarryWhatTheWireNeeds(t *testing.T) {
	e, st := open(t, syncd.Options{})
	mustCommit(t, e, "d", merge(`{"a":1}`))
	mustCommit(t, e, "d", merge(`{"a":2}`))
	commit := func(e *syncd.Engine, ed syncd.Edit) *syncd.Error {
		t.Helper()
		done := make(chan error, 1)
		e.CommitAsync(ctxT(t), "d", ed, func(_ *syncd.Op, err error) { done <- err })
		err := <-done
		ee, ok := err.(*syncd.Error)
		if !ok {
			t.Fatalf("%s: %T %v, want a *syncd.Error", ed.Patch, err, err)
		}
		if ee.Doc != "d" || ee.ReqID != ed.ReqID {
			t.Fatalf("%s: error names %q/%q, want d/%q", ed.Patch, ee.Doc, ee.ReqID, ed.ReqID)
		}
		return ee
	}
	for _, tc := range []struct {
		name string
		ed   syncd.Edit
		code syncd.Code
	}{
		{"bad request id", syncd.Edit{ClientID: "c", ReqID: "bad id", Patch: json.RawMessage(`{}`)}, syncd.CodeInvalid},
		{"bad patch without ids", syncd.Edit{Patch: json.RawMessage(`{`)}, syncd.CodeInvalid},
		{"bad patch with ids", syncd.Edit{ClientID: "c", ReqID: "r1", Patch: json.RawMessage(`{`)}, syncd.CodeInvalid},
		{"duplicate", syncd.Edit{ClientID: "c", ReqID: "r1", Patch: json.RawMessage(`{}`)}, syncd.CodeDuplicate},
		{"conflict", syncd.Edit{Base: 1, HasBase: true, Patch: json.RawMessage(`{"a":3}`)}, syncd.CodeConflict},
	} {
		ee := commit(e, tc.ed)
		if ee.Code != tc.code || ee.Head != 2 {
			t.Fatalf("%s: code %v head %d, want %v at head 2", tc.name, ee.Code, ee.Head, tc.code)
		}
	}
	// A closed engine still says which edit it could not take.
	e2, err := syncd.Open(st, syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e2.Close()
	if ee := commit(e2, syncd.Edit{ClientID: "c", ReqID: "r9", Patch: json.RawMessage(`{}`)}); ee.Code != syncd.CodeClosed {
		t.Fatalf("closed engine: %v", ee)
	}
}
