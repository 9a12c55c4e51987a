package syncd

import (
	"testing"

	"github.com/deltasync/syncd/delta"
)

// TestCompactedEstimate: merge patches whose paths later merge patches of
// the same run rewrote count for nothing; all others count whole.
func TestCompactedEstimate(t *testing.T) {
	op := func(kind OpKind, payload string, paths ...string) (*Op, delta.PathSet) {
		ps, err := delta.NewPathSet(paths...)
		if err != nil {
			t.Fatal(err)
		}
		return &Op{Kind: kind, Payload: []byte(payload)}, ps
	}
	type o struct {
		kind    OpKind
		payload string
		paths   []string
	}
	for _, c := range []struct {
		name string
		ops  []o
		want int
	}{
		{"every key once", []o{{OpMerge, "aaaa", []string{"/a"}}, {OpMerge, "bbbb", []string{"/b"}}, {OpMerge, "cccc", []string{"/c"}}}, 12},
		{"one key rewritten", []o{{OpMerge, "aaaa", []string{"/a"}}, {OpMerge, "aa", []string{"/a"}}, {OpMerge, "a", []string{"/a"}}}, 1},
		{"a parent rewritten", []o{{OpMerge, "aaaa", []string{"/a/x", "/a/y"}}, {OpMerge, "aa", []string{"/a"}}}, 2},
		{"a child rewritten", []o{{OpMerge, "aaaa", []string{"/a"}}, {OpMerge, "aa", []string{"/a/x"}}}, 6},
		{"partly rewritten", []o{{OpMerge, "aaaa", []string{"/a", "/b"}}, {OpMerge, "aa", []string{"/a"}}}, 6},
		{"a JSON Patch ends the run", []o{{OpMerge, "aaaa", []string{"/a"}}, {OpPatch, "pp", []string{"/a"}}, {OpMerge, "a", []string{"/a"}}}, 7},
		{"the root rewritten", []o{{OpMerge, "aaaa", []string{"/a"}}, {OpMerge, "r", []string{""}}}, 1},
		{"no paths", []o{{OpMerge, "aaaa", nil}, {OpMerge, "b", []string{"/b"}}}, 5},
	} {
		var ops []*Op
		var paths []delta.PathSet
		for _, x := range c.ops {
			op, ps := op(x.kind, x.payload, x.paths...)
			ops, paths = append(ops, op), append(paths, ps)
		}
		if got := compactedEstimate(ops, paths); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}
