package delta

import "github.com/deltasync/syncd/internal/jsonkit"

// Change describes one successful Apply and can revert it.
//
// A Change holds references into the document (the containers it edited and
// the values it removed or replaced), so keep it only as long as Undo may be
// needed; keep Paths, which does not refer to the Change, for longer.
type Change struct {
	// Paths is every path the patch touched, computed against the document
	// as the patch was applied, each cut short at the first array it passes
	// through (an edit inside an array moves the other elements' indices).
	Paths PathSet
	// SizeDelta is Size(after) - Size(before), exactly.
	SizeDelta int

	// log records each mutation in order, with what Undo needs to revert
	// it. The first entry lives in the Change itself, so a one-operation
	// patch allocates nothing for it.
	log      []undoEntry
	logSpace [1]undoEntry
	paths    []string // paths recorded so far, reduced into Paths at the end
	budget   Budget   // the bounds of the Apply in progress (ApplyWithin); zero: none
	work     int      // bytes of document values measured or walked so far (Budget.MaxWork)
}

// Undo reverts the Apply that returned c, restoring *doc exactly as it was,
// down to the identity of the arrays and objects in it. It is valid only if
// *doc has not changed since that Apply (other than by Undo of later
// Changes, in reverse order). Its cost is that of the Apply. A second Undo of
// the same Change, or Undo of a nil Change, does nothing.
func (c *Change) Undo(doc *any) {
	if c == nil {
		return
	}
	for i := len(c.log) - 1; i >= 0; i-- {
		c.log[i].undo(doc)
	}
	clear(c.log)
	c.log = c.log[:0] // keeps its memory for ApplyTo
}

// Reset empties c for reuse by ApplyTo, keeping its memory: it forgets the
// undo log, so c can no longer be undone and no longer refers into the
// document, and it drops Paths (which stays valid for whoever holds it).
func (c *Change) Reset() {
	clear(c.log)
	c.log = c.log[:0]
	if cap(c.log) > 1<<10 {
		c.log = nil // do not keep what a huge patch grew
	}
	clear(c.paths)
	c.paths = c.paths[:0]
	if cap(c.paths) > 1<<10 {
		c.paths = nil
	}
	c.Paths, c.SizeDelta = PathSet{}, 0
	c.budget, c.work = Budget{}, 0
}

// slot says where a value lives so that it can be replaced: a
// member of an object (m != nil), an element of an array (p points into the
// array's backing store) or, when both are zero, the document root.
//
// An element's address stays valid across later edits and their undoing,
// because Undo restores every array to its original backing store.
type slot struct {
	m   map[string]any
	key string
	p   *any
}

func (s slot) set(doc *any, v any) {
	switch {
	case s.m != nil:
		s.m[s.key] = v
	case s.p != nil:
		*s.p = v
	default:
		*doc = v
	}
}

type undoKind uint8

const (
	// undoSet: the value at s was old (absent if !had); restore it.
	undoSet undoKind = iota
	// undoInsert: arr (the array before) got an element at idx.
	undoInsert
	// undoRemove: arr (the array before) lost its element idx, old.
	undoRemove
)

type undoEntry struct {
	kind    undoKind
	had     bool // undoSet on an object member: the member existed
	grown   bool // undoInsert: append moved the array to a new backing store
	idx     int
	s       slot
	old     any
	arr     []any
	removed any
}

func (e *undoEntry) undo(doc *any) {
	switch e.kind {
	case undoSet:
		if e.s.m != nil && !e.had {
			delete(e.s.m, e.s.key)
			return
		}
		e.s.set(doc, e.old)
	case undoInsert:
		// If append reused spare capacity, the elements after idx were
		// shifted in the original backing store: shift them back. If it
		// moved the array, the original store was never written.
		if !e.grown {
			n := len(e.arr)
			a := e.arr[:n+1]
			copy(a[e.idx:], a[e.idx+1:])
			a[n] = nil
		}
		e.s.set(doc, e.arr)
	case undoRemove:
		// Removal shifts in place: shift back and put the element in.
		a := e.arr
		copy(a[e.idx+1:], a[e.idx:len(a)-1])
		a[e.idx] = e.removed
		e.s.set(doc, a)
	}
}

// The mutations below are the only ones Apply makes. Each records its undo
// entry and its exact effect on the encoded size. vsize is Size of the value
// inserted or removed; a move measures neither its removal nor its
// insertion, since the same value leaves and arrives, so moving a large
// value costs nothing to measure. The insertions take their effect on the size (grow)
// from the caller, which has computed it to check the Budget before
// inserting: memberGrowth and elemGrowth.

func (c *Change) record(e undoEntry) {
	if c.log == nil {
		c.log = c.logSpace[:0]
	}
	c.log = append(c.log, e)
}

// setSlot replaces the existing value at s (an object member, an array
// element or the root) with v; grow is vsize - Size(old).
func (c *Change) setSlot(doc *any, s slot, old, v any, grow int) {
	c.SizeDelta += grow
	s.set(doc, v)
	c.record(undoEntry{kind: undoSet, s: s, old: old, had: true})
}

// measure returns Size(v), a value of the document, and counts it as work.
func (c *Change) measure(v any) int {
	n := Size(v)
	c.work += n
	return n
}

// memberGrowth returns the effect on the encoded size of setting member k
// of m to a value of size vsize, and the member's old value, if it had one.
func (c *Change) memberGrowth(m map[string]any, k string, vsize int) (grow int, old any, had bool) {
	old, had = m[k]
	if had {
		return vsize - c.measure(old), old, true
	}
	grow = jsonkit.StringSize(k) + 1 + vsize // "k":v
	if len(m) > 0 {
		grow++ // and a comma
	}
	return grow, nil, false
}

// setMember adds or replaces member k of m, whose old value and growth
// memberGrowth returned.
func (c *Change) setMember(m map[string]any, k string, v, old any, had bool, grow int) {
	c.SizeDelta += grow
	m[k] = v
	c.record(undoEntry{kind: undoSet, s: slot{m: m, key: k}, old: old, had: had})
}

// removeMember removes the existing member k of m and returns its value,
// measured unless it is moved.
func (c *Change) removeMember(m map[string]any, k string, moved bool) any {
	old := m[k]
	delete(m, k)
	c.SizeDelta -= jsonkit.StringSize(k) + 1
	if !moved {
		c.SizeDelta -= c.measure(old)
	}
	if len(m) > 0 {
		c.SizeDelta--
	}
	c.record(undoEntry{kind: undoSet, s: slot{m: m, key: k}, old: old, had: true})
	return old
}

// elemGrowth returns the effect on the encoded size of inserting a value of
// size vsize into arr.
func elemGrowth(arr []any, vsize int) int {
	if len(arr) > 0 {
		return vsize + 1 // and a comma
	}
	return vsize
}

// insertElem inserts v at index i (0 ≤ i ≤ len) of arr, which lives at s;
// grow is elemGrowth(arr, Size(v)).
func (c *Change) insertElem(doc *any, s slot, arr []any, i int, v any, grow int) {
	n := len(arr)
	grown := cap(arr) == n
	a := append(arr, nil)
	copy(a[i+1:], a[i:n])
	a[i] = v
	s.set(doc, a)
	c.SizeDelta += grow
	c.record(undoEntry{kind: undoInsert, s: s, arr: arr, idx: i, grown: grown})
}

// removeElem removes element i of arr, which lives at s, and returns it,
// measured unless it is moved. It shifts in place, so the array keeps its
// backing store.
func (c *Change) removeElem(doc *any, s slot, arr []any, i int, moved bool) any {
	n := len(arr)
	x := arr[i]
	copy(arr[i:], arr[i+1:])
	arr[n-1] = nil // do not pin the last element from the spare capacity
	s.set(doc, arr[:n-1])
	if !moved {
		c.SizeDelta -= c.measure(x)
	}
	if n > 1 {
		c.SizeDelta--
	}
	c.record(undoEntry{kind: undoRemove, s: s, arr: arr, idx: i, removed: x})
	return x
}

// touch records path as touched.
func (c *Change) touch(path string) {
	c.paths = append(c.paths, path)
}
