package syncd_test

import (
	"context"
	"errors"
	"testing"

	"github.com/deltasync/syncd"
)

// The hook is told what the edit touched and whether it accepted the rest
// of the document before, so that it can check only the changed part; a
// deleted document starts over.
func TestValidationPathsAndChecked(t *testing.T) {
	type call struct {
		paths   string
		checked bool
	}
	var calls []call
	e, _ := open(t, syncd.Options{Validate: func(_ context.Context, v *syncd.Validation) error {
		calls = append(calls, call{v.Paths.String(), v.Checked})
		if _, bad := v.State.(map[string]any)["bad"]; bad {
			return errors.New("bad")
		}
		return nil
	}})
	mustCommit(t, e, "d", merge(`{"a":1}`))
	_, err := e.Commit(ctxT(t), "d", merge(`{"bad":1}`))
	wantCode(t, err, syncd.CodeRejected)
	mustCommit(t, e, "d", merge(`{"b":{"c":1}}`))
	if err := e.Delete(ctxT(t), "d"); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, e, "d", merge(`{"a":2}`))
	want := []call{{`["/a"]`, false}, {`["/bad"]`, true}, {`["/b"]`, true}, {`["/a"]`, false}}
	if len(calls) != len(want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Fatalf("call %d: %v, want %v (all: %v)", i, calls[i], want[i], calls)
		}
	}
}
