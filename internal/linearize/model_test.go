package linearize

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// op builds one operation of a hand-written history.
func op(client int, in Input, call int64, out Output, ret int64) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

func commit(key string) Input { return Input{Kind: Commit, Key: key, Via: "test"} }

var read = Input{Kind: Read, Via: "test"}

func readOut(rev uint64, keys ...string) Output { return Output{Epoch: "E", Rev: rev, Keys: keys} }

var empty = NewState("E", 0, nil)

// TestModelAcceptsLinearizable: concurrent commits may take their
// revisions in either order; a read concurrent with a commit may see it or
// not; a commit of unknown outcome may have happened or not; a refused one
// changed nothing.
func TestModelAcceptsLinearizable(t *testing.T) {
	for name, ops := range map[string][]porcupine.Operation{
		"concurrent commits, second invoked first": {
			op(0, commit("a"), 0, Output{Rev: 2}, 10),
			op(1, commit("b"), 1, Output{Rev: 1}, 9),
			op(2, read, 11, readOut(2, "a", "b"), 12),
		},
		"read concurrent with a commit sees the old state": {
			op(0, commit("a"), 0, Output{Rev: 1}, 10),
			op(1, read, 5, readOut(0), 15),
			op(1, read, 16, readOut(1, "a"), 17),
		},
		"unknown outcome, applied": {
			op(0, commit("a"), 0, Output{Unknown: true}, 100),
			op(1, read, 5, readOut(1, "a"), 6),
		},
		"unknown outcome, not applied": {
			op(0, commit("a"), 0, Output{Unknown: true}, 100),
			op(1, commit("b"), 5, Output{Rev: 1}, 6),
			op(1, read, 7, readOut(1, "b"), 8),
		},
		"refused": {
			op(0, commit("a"), 0, Output{Refused: true}, 3),
			op(1, read, 5, readOut(0), 8),
		},
	} {
		t.Run(name, func(t *testing.T) {
			Require(t, History{Init: empty, Ops: ops})
		})
	}
}

// nonLinearizable are histories syncd must never produce; the checker must
// call each illegal.
var nonLinearizable = map[string][]porcupine.Operation{
	"stale read": {
		op(0, commit("a"), 0, Output{Rev: 1}, 10),
		op(1, read, 20, readOut(0), 30),
	},
	"a revision given twice": {
		op(0, commit("a"), 0, Output{Rev: 1}, 10),
		op(1, commit("b"), 20, Output{Rev: 1}, 30),
	},
	"a gap in the revisions": {
		op(0, commit("a"), 0, Output{Rev: 2}, 10),
		op(1, read, 20, readOut(2, "a"), 30),
	},
	"revisions against real time": {
		op(0, commit("a"), 0, Output{Rev: 2}, 10),
		op(1, commit("b"), 20, Output{Rev: 1}, 30),
	},
	"a read going back": {
		op(0, commit("a"), 0, Output{Rev: 1}, 100),
		op(1, read, 10, readOut(1, "a"), 20),
		op(1, read, 30, readOut(0), 40),
	},
	"a lost acknowledged commit": {
		op(0, commit("a"), 0, Output{Rev: 1}, 10),
		op(1, commit("b"), 20, Output{Rev: 2}, 30),
		op(2, read, 40, readOut(2, "b"), 50),
	},
	"another epoch": {
		op(0, read, 0, Output{Epoch: "F", Rev: 0}, 10),
	},
	"a refused commit applied": {
		op(0, commit("a"), 0, Output{Refused: true}, 10),
		op(1, read, 20, readOut(1, "a"), 30),
	},
}

// TestCheckerCatchesViolations: the checker is not vacuous; each history
// above is illegal.
func TestCheckerCatchesViolations(t *testing.T) {
	for name, ops := range nonLinearizable {
		t.Run(name, func(t *testing.T) {
			if res, _ := Check(History{Init: empty, Ops: ops}); res != porcupine.Illegal {
				t.Fatalf("Check = %s, want Illegal", res)
			}
		})
	}
}

// fakeT records what Require reports instead of failing the test.
type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper()                           {}
func (f *fakeT) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

// TestRequireWritesVisualization: a failing Require names an HTML file
// in the test's temporary directory that shows the history.
func TestRequireWritesVisualization(t *testing.T) {
	f := &fakeT{TB: t}
	Require(f, History{Init: empty, Ops: nonLinearizable["stale read"]})
	if !strings.Contains(f.failed, "NOT linearizable") {
		t.Fatalf("Require reported %q", f.failed)
	}
	i := strings.Index(f.failed, "see ")
	if i < 0 {
		t.Fatalf("no path in %q", f.failed)
	}
	path := strings.Fields(f.failed[i+len("see "):])[0]
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "<html") || !strings.Contains(string(b), "commit a (test)") {
		t.Fatalf("%s does not look like the visualization (%d bytes)", path, len(b))
	}
}
