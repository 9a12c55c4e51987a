package delta

import (
	"encoding/binary"
	"iter"
	"slices"
	"strings"

	"github.com/deltasync/syncd/internal/jsonkit"
)

// PathSet is a set of JSON Pointer paths, the places a patch touched. Two
// edits conflict when their path sets overlap.
//
// A set is kept reduced and ordered: no member is a prefix of another (a
// path below one already present adds nothing to what the set overlaps) and
// members are sorted token by token, so Overlaps is a single merge of two
// sorted lists. The members are stored in one string, each as its length
// (a uvarint) and its bytes: one allocation, holding no pointers, per set.
// A server keeps a set for each of its recent operations, thousands per
// document, so the garbage collector's work on them is worth sparing. The
// zero value is the empty set. A PathSet is immutable and safe to share.
type PathSet struct {
	enc string
	n   int // the number of members
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
	return encodePaths(reducePaths(p)), nil
}

// encodePaths returns the set of p, which must be reduced and ordered.
func encodePaths(p []string) PathSet {
	if len(p) == 0 {
		return PathSet{}
	}
	n := 0
	for _, x := range p {
		n += uvarintLen(len(x)) + len(x)
	}
	var b strings.Builder
	b.Grow(n)
	var lenBuf [binary.MaxVarintLen64]byte
	for _, x := range p {
		b.Write(binary.AppendUvarint(lenBuf[:0], uint64(len(x))))
		b.WriteString(x)
	}
	return PathSet{enc: b.String(), n: len(p)}
}

func uvarintLen(x int) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// nextPath splits the first member off enc, which must not be empty.
func nextPath(enc string) (path, rest string) {
	var n, shift int
	i := 0
	for {
		c := enc[i]
		i++
		n |= int(c&0x7f) << shift
		if c < 0x80 {
			break
		}
		shift += 7
	}
	return enc[i : i+n], enc[i+n:]
}

// Len returns the number of paths in the reduced set.
func (s PathSet) Len() int { return s.n }

// Strings returns the paths as JSON Pointers, in token order.
func (s PathSet) Strings() []string {
	if s.n == 0 {
		return nil
	}
	return slices.AppendSeq(make([]string, 0, s.n), s.All())
}

// All yields the paths as JSON Pointers, in token order, without copying
// the set.
func (s PathSet) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		for rest := s.enc; rest != ""; {
			var p string
			p, rest = nextPath(rest)
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
	i := 0
	for p := range s.All() {
		if i > 0 {
			b.WriteByte(' ')
		}
		i++
		b.Write(jsonkit.AppendString(nil, p))
	}
	b.WriteByte(']')
	return b.String()
}

// Overlaps reports whether some path of s and some path of t are equal or
// one is a prefix of the other, token-wise: "/a" overlaps "/a" and "/a/b",
// but not "/ab" nor "/b"; the root "" overlaps every path. An empty set
// overlaps nothing. It costs O(s.Len() + t.Len()).
func (s PathSet) Overlaps(t PathSet) bool {
	if s.n == 0 || t.n == 0 {
		return false
	}
	x, a := nextPath(s.enc)
	y, b := nextPath(t.enc)
	for {
		if pathPrefix(x, y) || pathPrefix(y, x) {
			return true
		}
		// Neither is a prefix of the other, so the smaller one overlaps
		// nothing left in the other list: every path it is a prefix of
		// would sort between it and the larger one.
		if comparePaths(x, y) < 0 {
			if a == "" {
				return false
			}
			x, a = nextPath(a)
		} else {
			if b == "" {
				return false
			}
			y, b = nextPath(b)
		}
	}
}

// Union returns the set of paths in s or t.
func (s PathSet) Union(t PathSet) PathSet {
	switch {
	case s.n == 0:
		return t
	case t.n == 0:
		return s
	}
	p := make([]string, 0, s.n+t.n)
	p = slices.AppendSeq(p, s.All())
	p = slices.AppendSeq(p, t.All())
	return encodePaths(reducePaths(p))
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
