package syncd

import (
	"fmt"
	"testing"

	"github.com/deltasync/syncd/revision"
)

// TestCompactOpsLimit: compactOps gives up (nil, no error) once its result
// is sure to be over the limit, and is unchanged by a limit it is within.
func TestCompactOpsLimit(t *testing.T) {
	merges := func(n int, key func(i int) int) []*Op {
		ops := make([]*Op, n)
		for i := range ops {
			ops[i] = &Op{Rev: revisionOf(i), Kind: OpMerge, Payload: fmt.Appendf(nil, `{"k%d":{"v":%d,"pad":"xxxxxxxxxxxxxxxxxxxx"}}`, key(i), i)}
		}
		return ops
	}
	size := func(ops []*Op) int { return opsSize(ops) }

	// Every key once: nothing to save, so a limit below the operations'
	// size stops the composition.
	distinct := merges(100, func(i int) int { return i })
	full, err := compactOps(distinct, "", 0)
	if err != nil || len(full) != 1 {
		t.Fatalf("no limit: %d ops, %v", len(full), err)
	}
	if got, err := compactOps(distinct, "", size(full)-100); got != nil || err != nil {
		t.Errorf("limit under the result: %d ops, %v; want nil", len(got), err)
	}
	if got, err := compactOps(distinct, "", size(full)); err != nil || len(got) != 1 || string(got[0].Payload) != string(full[0].Payload) {
		t.Errorf("limit at the result: %v, %v", got, err)
	}

	// The same key over and over composes to one edit's size, well
	// within a limit the operations one by one are far over.
	same := merges(100, func(int) int { return 7 })
	got, err := compactOps(same, "", 200)
	if err != nil || len(got) != 1 || got[0].First() != same[0].Rev || got[0].Rev != same[99].Rev {
		t.Fatalf("one key: %v, %v", got, err)
	}
	if want := `{"k7":{"v":99,"pad":"xxxxxxxxxxxxxxxxxxxx"}}`; string(got[0].Payload) != want {
		t.Errorf("one key: %s, want %s", got[0].Payload, want)
	}

	// JSON Patches are not shrunk: a run whose JSON Patches alone are over
	// the limit is given up before it is compacted.
	patches := make([]*Op, 10)
	for i := range patches {
		patches[i] = &Op{Rev: revisionOf(i), Kind: OpPatch, Payload: []byte(`[{"op":"add","path":"/a","value":"xxxxxxxxxxxxxxxxxxxxxxxx"}]`)}
	}
	if got, err := compactOps(patches, "", 300); got != nil || err != nil {
		t.Errorf("JSON Patches over the limit: %d ops, %v; want nil", len(got), err)
	}
	if got, err := compactOps(patches, "", 0); err != nil || len(got) != 1 {
		t.Errorf("JSON Patches, no limit: %d ops, %v", len(got), err)
	}
}

// revisionOf is the revision of the i-th operation of a test history.
func revisionOf(i int) revision.Rev { return revision.Rev(i + 1) }
