package delta

import (
	"iter"
	"slices"
	"strings"
)

// PathSet is a set of JSON Pointer paths, the places a patch touched. Two
// edits conflict when their path sets overlap.
//
// A set is kept reduced and ordered: no member is a prefix of another (a
// path below one already present adds nothing to what the set overlaps) and
// members are sorted token by token, so Overlaps is a single merge of two
// sorted lists. Members are stored as pointer strings, one string header
// each, usually a substring of the patch's own path text. The zero value is
// the empty set. A PathSet is immutable and safe to share.
type PathSet struct {
	p []string
}

// NewPathSet returns the set of the given JSON Pointers. Errors wrap
// ErrInvalidPatch.
func NewPathSet(pointers ...string) (PathSet, error) {
	p := make([]string, 0, len(pointers))
	for _, s := range pointers {
		if _, err := ParsePointer(s); err != nil {
			return PathSet{}, err
		}
		p = append(p, s)
	}
	return PathSet{p: reducePaths(p)}, nil
}

// Len returns the number of paths in the reduced set.
func (s PathSet) Len() int { return len(s.p) }

// Strings returns the paths as JSON Pointers, in token order.
func (s PathSet) Strings() []string { return slices.Clone(s.p) }

// All yields the paths as JSON Pointers, in token order, without copying
// the set.
func (s PathSet) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, p := range s.p {
			if !yield(p) {
				return
			}
		}
	}
}

// String formats the set for debugging, e.g. ["/a" "/list"].
func (s PathSet) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, p := range s.p {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.Write(appendString(nil, p))
	}
	b.WriteByte(']')
	return b.String()
}

// Overlaps reports whether some path of s and some path of t are equal or
// one is a prefix of the other, token-wise: "/a" overlaps "/a" and "/a/b",
// but not "/ab" nor "/b"; the root "" overlaps every path. An empty set
// overlaps nothing. It costs O(s.Len() + t.Len()).
func (s PathSet) Overlaps(t PathSet) bool {
	a, b := s.p, t.p
	for len(a) > 0 && len(b) > 0 {
		x, y := a[0], b[0]
		if pathPrefix(x, y) || pathPrefix(y, x) {
			return true
		}
		// Neither is a prefix of the other, so the smaller one overlaps
		// nothing left in the other list: every path it is a prefix of
		// would sort between it and the larger one.
		if comparePaths(x, y) < 0 {
			a = a[1:]
		} else {
			b = b[1:]
		}
	}
	return false
}

// Union returns the set of paths in s or t.
func (s PathSet) Union(t PathSet) PathSet {
	switch {
	case len(s.p) == 0:
		return t
	case len(t.p) == 0:
		return s
	}
	p := make([]string, 0, len(s.p)+len(t.p))
	p = append(p, s.p...)
	p = append(p, t.p...)
	return PathSet{p: reducePaths(p)}
}

// pathPrefix reports whether pointer a is a token-wise prefix of pointer b
// (or equal). A token never contains an unescaped '/', so a string prefix
// that ends where b has a '/' is a token prefix.
func pathPrefix(a, b string) bool {
	return len(a) <= len(b) && b[:len(a)] == a && (len(a) == len(b) || b[len(a)] == '/')
}

// comparePaths orders pointers token by token: the byte order, except that
// '/' sorts before every other byte. Plain byte order would put "/a!" between
// "/a" and "/a/b", breaking the rule Overlaps and reducePaths rely on: the
// paths a pointer is a prefix of come right after it.
func comparePaths(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x == '/' {
			return -1
		}
		if y == '/' {
			return 1
		}
		if x < y {
			return -1
		}
		return 1
	}
	return len(a) - len(b)
}

// reducePaths sorts p in token order and drops every path that has a prefix
// in p, in place.
func reducePaths(p []string) []string {
	if len(p) < 2 {
		return p
	}
	// Apply records paths mostly in order already; checking is cheaper
	// than sorting.
	if !slices.IsSortedFunc(p, comparePaths) {
		slices.SortFunc(p, comparePaths)
	}
	out := p[:1]
	for _, x := range p[1:] {
		// Checking only the last kept path suffices: a kept path that
		// is a prefix of x would sort before it with nothing but its own
		// descendants in between, and those were dropped.
		if !pathPrefix(out[len(out)-1], x) {
			out = append(out, x)
		}
	}
	clear(p[len(out):])
	return out
}
