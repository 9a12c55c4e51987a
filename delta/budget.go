package delta

import "fmt"

// Budget bounds what one Apply may make of a document, at every step of
// the patch and not only at its end: each operation is checked before it
// inserts anything, and before it clones what it inserts. Checking only
// the result would be too late: a JSON Patch of 26 copies of the document
// into itself holds 2^26 documents in memory by its last operation, and a
// patch can build a value too deep for any decoder to read back.
//
// The checks are incremental: the running size is Size plus the SizeDelta
// of the steps so far, and each step's effect is what Apply measures
// anyway, so a budget costs a few comparisons per operation.
type Budget struct {
	// Size is the document's encoded size before the Apply, Size(*doc).
	// The engine keeps it current from SizeDelta rather than measuring.
	Size int
	// MaxSize, when positive, is the largest encoded size the document
	// may have after any operation. An operation that does not grow the
	// document is always within it, so a document already larger (its
	// limit was lowered) can still be cut down.
	MaxSize int
	// MaxDepth, when positive, is the deepest nesting (see Depth) that an
	// operation may give the value it inserts, counted from the root: a
	// value put at a pointer of n tokens nests n + Depth(value) deep. A
	// value copied or moved no deeper than its source is not measured
	// again; one moved or copied deeper is, as far down as the budget
	// allows.
	MaxDepth int
	// MaxWork, when positive, bounds the work of the Apply: the encoded
	// bytes of the document's values it measures or walks (values it
	// removes, replaces, copies or moves deeper), counted as they are,
	// so that the operation that passes it is the last. Without it a
	// patch of a thousand copies and removals of half the document holds
	// the document for as long as it takes to copy it a thousand times,
	// within every other bound. (Values the patch itself carries are
	// measured when it is parsed, and bounded by its length.)
	MaxWork int
}

// ApplyWithin is ApplyTo within budget b: an operation that would take the
// document over b fails with an error wrapping ErrTooLarge or ErrTooDeep,
// before it inserts anything, and *doc is left as it was (Apply is
// atomic). The error's Op and Path name the operation (Op is -1 for a
// merge patch) and where it would have inserted.
func (p *Patch) ApplyWithin(doc *any, c *Change, b Budget) error {
	c.Reset()
	c.budget = b
	if err := p.apply(doc, c); err != nil {
		c.Reset()
		return err
	}
	c.Paths = encodePaths(reducePaths(c.paths))
	clear(c.paths)
	c.paths = c.paths[:0]
	return nil
}

// insertion is a value an operation is about to put into the document,
// with what the budget needs to know of it.
type insertion struct {
	v    any
	size int // Size(v), or 0 for a move (the value leaves and arrives)
	// depth is Depth(v) when known (values of the patch, measured while
	// parsing), else -1: v is taken from the document by a copy or move
	// whose source pointer has from tokens.
	depth, from int
	// clone: v is the patch's, or stays in the document too (a copy);
	// it is cloned only once the budget has allowed it in.
	clone bool
}

// patchValue is the insertion of a value carried by the patch.
func patchValue(v any, size, depth int) insertion {
	return insertion{v: v, size: size, depth: depth, clone: true}
}

// value returns what to insert: ins.v itself or a clone of it.
func (ins *insertion) value() any {
	if ins.clone {
		return Clone(ins.v)
	}
	return ins.v
}

// allow checks a step before it is taken: it would change the encoded size
// by grow and put ins at a pointer of at tokens. op, field and path name
// the step in the error. It is on every insertion's path: the checks are
// kept small enough to inline, the errors built out of line.
func (c *Change) allow(grow, at int, ins *insertion, op int, field, path string) error {
	b := &c.budget
	if (b.MaxSize > 0 && grow > 0 && b.Size+c.SizeDelta+grow > b.MaxSize) ||
		(b.MaxDepth > 0 && c.tooDeep(at, ins)) ||
		// Work too, so that a copy over the budget is refused before it
		// clones.
		(b.MaxWork > 0 && c.work > b.MaxWork) {
		return c.refusal(grow, at, ins, op, field, path)
	}
	return nil
}

// refusal builds the error of a step allow refuses.
func (c *Change) refusal(grow, at int, ins *insertion, op int, field, path string) error {
	b := &c.budget
	e := &Error{Op: op, Field: field, Path: path}
	switch {
	case b.MaxSize > 0 && grow > 0 && b.Size+c.SizeDelta+grow > b.MaxSize:
		e.Err, e.Reason = ErrTooLarge, fmt.Sprintf("the document would grow to %d bytes, over the limit of %d", b.Size+c.SizeDelta+grow, b.MaxSize)
	case b.MaxDepth > 0 && c.tooDeep(at, ins):
		e.Err, e.Reason = ErrTooDeep, fmt.Sprintf("the document would nest more than %d levels deep", b.MaxDepth)
	default:
		return c.checkWork(op, path)
	}
	return e
}

// checkWork fails once the Apply has measured or walked more than its
// budget allows.
func (c *Change) checkWork(op int, path string) error {
	if b := &c.budget; b.MaxWork > 0 && c.work > b.MaxWork {
		return workError(op, path, b.MaxWork)
	}
	return nil
}

func workError(op int, path string, max int) error {
	return &Error{Op: op, Path: path, Err: ErrTooMuchWork,
		Reason: fmt.Sprintf("the patch would walk more than %d bytes of the document", max)}
}

// tooDeep reports whether ins, put at a pointer of at tokens, would nest
// deeper than the budget.
func (c *Change) tooDeep(at int, ins *insertion) bool {
	room := c.budget.MaxDepth - at
	switch {
	case ins.depth >= 0:
		return ins.depth > room
	case at <= ins.from:
		// Copied or moved no deeper than where it already was: it nests
		// no deeper than the document already did.
		return false
	default:
		return c.deeperThan(ins.v, room)
	}
}

// deeperThan reports whether Depth(v) > n, without walking further down
// than n + 1 levels. Each value it visits counts as a byte of work: it is
// at least one.
func (c *Change) deeperThan(v any, n int) bool {
	c.work++
	switch v := v.(type) {
	case map[string]any:
		if n < 1 {
			return true
		}
		for _, e := range v {
			if c.deeperThan(e, n-1) {
				return true
			}
		}
	case []any:
		if n < 1 {
			return true
		}
		for _, e := range v {
			if c.deeperThan(e, n-1) {
				return true
			}
		}
	}
	return false
}
