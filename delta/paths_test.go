package delta_test

import (
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd/delta"
)

func mustPathSet(t tb, ptrs ...string) delta.PathSet {
	t.Helper()
	s, err := delta.NewPathSet(ptrs...)
	if err != nil {
		t.Fatalf("NewPathSet(%q): %v", ptrs, err)
	}
	return s
}

func TestOverlaps(t *testing.T) {
	tests := []struct {
		a, b []string
		want bool
	}{
		{[]string{"/a"}, []string{"/a/b"}, true},
		{[]string{"/a"}, []string{"/a"}, true},
		{[]string{"/a"}, []string{"/ab"}, false},
		{[]string{"/a"}, []string{"/b"}, false},
		{[]string{""}, []string{"/x/y"}, true},
		{[]string{""}, []string{""}, true},
		{[]string{}, []string{""}, false},
		{[]string{"/a"}, []string{"/a~1b"}, false},
		{[]string{"/a"}, []string{"/a!", "/a/b"}, true},
		{[]string{"/a!", "/c"}, []string{"/a", "/b"}, false},
		{[]string{"/"}, []string{"//x"}, true},
		{[]string{"/"}, []string{"/x"}, false},
		{[]string{"/x/y", "/z"}, []string{"/q", "/x"}, true},
	}
	for _, tt := range tests {
		a, b := mustPathSet(t, tt.a...), mustPathSet(t, tt.b...)
		if got := a.Overlaps(b); got != tt.want {
			t.Errorf("%v.Overlaps(%v) = %v, want %v", a, b, got, tt.want)
		}
	}
	if _, err := delta.NewPathSet("/ok", "bad"); err == nil {
		t.Error("NewPathSet accepted a bad pointer")
	}
	s := mustPathSet(t, "/a/b", "/a", "/c", "/a!", "/c/d/e")
	if got, want := s.Strings(), []string{"/a", "/a!", "/c"}; !slices.Equal(got, want) {
		t.Errorf("reduced set = %q, want %q", got, want)
	}
}

// TestPathSetLongPaths: members longer than 127 bytes take more than one
// byte of length in the set's encoding.
func TestPathSetLongPaths(t *testing.T) {
	long := "/" + strings.Repeat("x", 200)
	longer := "/" + strings.Repeat("y", 20000)
	s := mustPathSet(t, longer, "/a", long+"/b", long)
	if got, want := s.Strings(), []string{"/a", long, longer}; !slices.Equal(got, want) {
		t.Errorf("reduced set = %q, want %q", got, want)
	}
	if s.Len() != 3 {
		t.Errorf("Len = %d, want 3", s.Len())
	}
	if !s.Overlaps(mustPathSet(t, longer+"/z")) || s.Overlaps(mustPathSet(t, long+"x")) {
		t.Error("Overlaps is wrong on long paths")
	}
	if got := s.Union(mustPathSet(t, "/b")).Len(); got != 4 {
		t.Errorf("Union has %d paths, want 4", got)
	}
}

// pathTokens are few, so random paths often share prefixes, and include the
// awkward ones: "a!" sorts before "a/…" byte-wise, "a/b" must be escaped,
// "" is a token too.
var pathTokens = []string{"a", "b", "a!", "ab", "a/b", "~", "", "0"}

var pathGen = rapid.Custom(func(t *rapid.T) string {
	var b strings.Builder
	for range rapid.IntRange(0, 3).Draw(t, "depth") {
		b.WriteByte('/')
		b.WriteString(escapeToken(rapid.SampledFrom(pathTokens).Draw(t, "token")))
	}
	return b.String()
})

var pathListGen = rapid.SliceOfN(pathGen, 0, 5)

// bruteOverlaps is the definition of Overlaps, on token slices.
func bruteOverlaps(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if isPrefixPath(x, y) || isPrefixPath(y, x) {
				return true
			}
		}
	}
	return false
}

// TestOverlapLaws checks Overlaps against its definition, and the laws that
// follow from it.
func TestOverlapLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		al, bl, cl := pathListGen.Draw(t, "a"), pathListGen.Draw(t, "b"), pathListGen.Draw(t, "c")
		a, b, c := mustPathSet(t, al...), mustPathSet(t, bl...), mustPathSet(t, cl...)

		if got, want := a.Overlaps(b), bruteOverlaps(al, bl); got != want {
			t.Fatalf("%v.Overlaps(%v) = %v, want %v", a, b, got, want)
		}
		if a.Overlaps(b) != b.Overlaps(a) {
			t.Fatal("Overlaps is not symmetric")
		}
		if a.Len() > 0 && !a.Overlaps(a) {
			t.Fatal("a non-empty set does not overlap itself")
		}
		root := mustPathSet(t, "")
		if root.Overlaps(a) != (a.Len() > 0) {
			t.Fatalf("root overlaps %v: %v", a, root.Overlaps(a))
		}
		if (delta.PathSet{}).Overlaps(a) {
			t.Fatal("the empty set overlaps something")
		}
		if got, want := a.Union(b).Overlaps(c), a.Overlaps(c) || b.Overlaps(c); got != want {
			t.Fatalf("(%v ∪ %v).Overlaps(%v) = %v, want %v", a, b, c, got, want)
		}
		// Reduced: no member is a prefix of another, each input path has
		// a prefix in the set, and the set overlaps exactly what its
		// inputs overlap.
		ps := a.Strings()
		for i, x := range ps {
			for j, y := range ps {
				if i != j && isPrefixPath(x, y) {
					t.Fatalf("%v is not reduced: %q is a prefix of %q", a, x, y)
				}
			}
		}
		for _, x := range al {
			if !slices.ContainsFunc(ps, func(p string) bool { return isPrefixPath(p, x) }) {
				t.Fatalf("%v lost %q", a, x)
			}
		}
		// Prefix relation: extending any path of a keeps it overlapping a.
		if len(al) > 0 {
			ext := al[0] + "/" + escapeToken(rapid.SampledFrom(pathTokens).Draw(t, "ext"))
			if !a.Overlaps(mustPathSet(t, ext)) {
				t.Fatalf("%v does not overlap %q, an extension of its member", a, ext)
			}
		}
	})
}
