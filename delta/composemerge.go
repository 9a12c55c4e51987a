package delta

import (
	"slices"

	"github.com/deltasync/syncd/internal/jsonkit"
)

// Composing a run of merge patches from the newest back to the oldest.
//
// The Compactor composes forwards: each patch is merged into an
// accumulator built of maps, which costs a decoded map per object of every
// patch and a sort of every object's names to encode the result. A
// catch-up composes a thousand patches while a client waits, and that way
// it cost ~1.3 µs per patch, more than sending the bytes it saved on a
// fast network. ComposeMerge reads each patch's text once, newest first,
// and keeps what a newer patch has not already decided as spans of the
// patches' own text: a member is looked up once, and a value nobody
// overrides is copied as it was written, never decoded or re-encoded.
//
// Going backwards, the rules of composition read:
//
//   - A value that is not an object (null included) at a path decides that
//     path and everything below it: older patches' members there are
//     dropped.
//   - An object at a path merges: older patches' members below it are kept
//     where no newer patch decided them.
//   - An older value that is not an object where a newer patch merges an
//     object has no single-patch form (the newer patch builds a fresh
//     object out of a non-object, which a merge into the target cannot
//     say): ComposeMerge then reports ok false. Unlike the forward rule,
//     such a pair hidden under a newer non-object is no obstacle:
//     {"x":1}, {"x":{"y":1}}, {"x":2} compose to {"x":2}.

// composeNode is a member of the composed patch: either a span of some
// patch's text (raw), or, once an older patch merged into it, an object
// whose members are nodes.
type composeNode struct {
	name string
	raw  []byte // the value's text; nil once expanded into kids
	leaf bool   // raw is not an object: it decides everything below
	seen int    // the patch that last named this member, to find a name repeated within one object
	// shape lists the members of raw, an object, as read when it was
	// skipped (see skipShaped), so that hidden need not read raw again;
	// nil when not known.
	shape []byte
	// The members, in the order they were added: a list through next,
	// so that the many small objects of a composition need no slices.
	first, last, next *composeNode
	n                 int // members
	// index finds a member by name once there are more than a few;
	// below that a walk of the list is cheaper than hashing.
	index map[string]*composeNode
}

// composeIndexAt is the number of members from which a node keeps an index.
const composeIndexAt = 8

// composer is the state of one ComposeMerge.
type composer struct {
	d, e   *decoder      // reading a patch; expanding a member (expand)
	slab   []composeNode // nodes are carved from here, a few hundred per allocation
	shapes []byte        // nodes' shapes are carved from here
	// size is the result's size so far, to stop at limit (> 0): exact
	// but for names that need escaping, which are counted unescaped.
	size, limit int
}

// notComposable stops a composition that has no single-patch form, or
// meets a member named twice in one object (whose last value counts,
// which a backward pass would get wrong); the caller then composes
// forwards.
type notComposable struct{}

func (notComposable) Error() string { return "delta: merge patches do not compose into one" }

// ComposeMerge appends to dst one merge patch with the effect of applying
// the merge patches patches in order, each the text of a JSON object,
// without decoding their values (see the comment above). ok is false, and
// dst returned unchanged, when no single merge patch has that effect by
// the rules above, or a patch is not an object or names a member twice in
// one object (Compactor handles those), or patches is empty; err
// (wrapping ErrInvalidPatch) when a patch it read is not valid JSON (it
// stops reading at the first reason for ok false, and reads the newest
// patches first). Members come out newest first; the
// result holds no white space the patches did not have inside values.
//
// It costs time linear in the patches' total size, plus a lookup per
// member, and allocates per member of the result, not per patch.
//
// limit > 0 bounds the result's size: once the members composed so far
// take more than limit bytes, it stops and returns ErrOverLimit, so that a
// caller that only wants a result smaller than something else does not
// finish a composition it will not use.
func ComposeMerge(dst []byte, patches [][]byte, limit int) (_ []byte, ok bool, err error) {
	if len(patches) == 0 {
		return dst, false, nil // no patch is not an object patch: {} would make a non-object one
	}
	c := composer{d: newDecoder(nil), e: newDecoder(nil), size: 2, limit: limit}
	defer c.d.release()
	defer c.e.release()
	// The root's members are most of the result: size its index for a
	// member per patch, rather than grow it as they come.
	root := &composeNode{index: make(map[string]*composeNode, len(patches))}
	for i := len(patches) - 1; i >= 0; i-- {
		d := c.d
		d.data, d.pos, d.depth = patches[i], 0, 0
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '{' {
			if err := d.skipValueForError(); err != nil {
				return dst, false, invalid(-1, "", "", err.Error())
			}
			return dst, false, nil // a whole-document replacement: compose forwards
		}
		err := c.merge(root, i)
		if err == nil {
			err = d.end()
		}
		if _, stop := err.(notComposable); stop {
			return dst, false, nil
		} else if err == ErrOverLimit {
			return dst, false, err
		} else if err != nil {
			return dst, false, invalid(-1, "", "", err.Error())
		}
	}
	// c.size is the result's size but for escapes in names: grow dst
	// once, to about that.
	return root.appendValue(slices.Grow(dst, c.size)), true, nil
}

// skipValueForError reads the value at d.pos, only to tell a patch that
// is not an object from one that is not JSON.
func (d *decoder) skipValueForError() error {
	if d.pos >= len(d.data) {
		return d.errAt(d.pos, "")
	}
	if err := d.skipLeaf(); err != nil {
		return err
	}
	return d.end()
}

// merge reads the object at c.d's position, from patch gen, into n: an
// object older than everything n holds.
func (c *composer) merge(n *composeNode, gen int) error {
	d := c.d
	if empty, err := d.openEmpty('}'); err != nil || empty {
		return err
	}
	for {
		name, isObject, err := d.member()
		if err != nil {
			return err
		}
		kid := n.kid(name)
		switch {
		case kid != nil && kid.seen == gen:
			return notComposable{} // named twice in this object
		case kid == nil:
			key := d.names.get(name) // before skipping: name may be in d.buf, which the value's escapes reuse
			start := d.pos
			shape, err := c.skipShaped(d, isObject)
			if err != nil {
				return err
			}
			c.add(n, key, d.data[start:d.pos], !isObject, gen).shape = shape
			if c.limit > 0 && c.size > c.limit {
				return ErrOverLimit
			}
		case kid.leaf:
			// Decided by a newer patch: this value and all below it
			// are overridden.
			kid.seen = gen
			if err := d.skipMember(isObject); err != nil {
				return err
			}
		case !isObject:
			return notComposable{} // a newer patch merges an object into this value
		default:
			if kid.raw != nil && kid.shape != nil {
				// Most often an older patch wrote what a newer one
				// rewrote, member for member: then it leaves nothing,
				// and the newer text need not be expanded.
				hidden, err := c.hidden(kid.shape)
				if err != nil {
					return err
				}
				if hidden {
					kid.seen = gen
					break
				}
			}
			if err := c.expand(kid); err != nil { // its members keep the patch they came from
				return err
			}
			kid.seen = gen
			if err := c.merge(kid, gen); err != nil {
				return err
			}
		}
		if done, err := d.next('}', "after object key:value pair"); err != nil || done {
			return err
		}
	}
}

// hidden reports whether every member of the object at c.d's position is
// decided by a member of the same name that is not an object in the
// object whose members shape lists (from a newer patch), so that it leaves
// nothing in the result; it then moves past the object, and otherwise
// leaves c.d where it was.
func (c *composer) hidden(shape []byte) (bool, error) {
	d := c.d
	pos, depth := d.pos, d.depth
	if empty, err := d.openEmpty('}'); err != nil || empty {
		return empty, err // {} makes an object of what the newer one makes one of
	}
	for {
		name, isObject, err := d.member()
		if err != nil {
			return false, err
		}
		if !shapeDecides(shape, name) {
			d.pos, d.depth = pos, depth
			return false, nil
		}
		if err := d.skipMember(isObject); err != nil {
			return false, err
		}
		done, err := d.next('}', "after object key:value pair")
		if err != nil || done {
			return done, err
		}
	}
}

// A shape lists an object's members as read, each as a byte that is 1 for
// a value that is not an object, the name's length in two bytes and the
// name (unescaped). Objects with a name longer than maxShapeName get none.
const maxShapeName = 1<<16 - 1

// noMembers is the shape of {}.
var noMembers = []byte{}

// skipShaped moves d past the value at its position, checking it, and
// returns the shape of an object, carved from c.shapes.
func (c *composer) skipShaped(d *decoder, isObject bool) ([]byte, error) {
	if !isObject {
		return nil, d.skipLeaf()
	}
	start := len(c.shapes)
	known := true
	if empty, err := d.openEmpty('}'); err != nil || empty {
		return noMembers, err
	}
	for {
		name, isObject, err := d.member()
		if err != nil {
			return nil, err
		}
		if known = known && len(name) <= maxShapeName; known {
			leaf := byte(1)
			if isObject {
				leaf = 0
			}
			c.shapes = append(c.shapes, leaf, byte(len(name)), byte(len(name)>>8))
			c.shapes = append(c.shapes, name...)
		}
		if err := d.skipMember(isObject); err != nil {
			return nil, err
		}
		done, err := d.next('}', "after object key:value pair")
		if err != nil {
			return nil, err
		}
		if done {
			if !known {
				c.shapes = c.shapes[:start]
				return nil, nil
			}
			return c.shapes[start:len(c.shapes):len(c.shapes)], nil
		}
	}
}

// shapeDecides reports whether the last member called name in shape (the
// one a parser keeps) is not an object.
func shapeDecides(shape []byte, name []byte) bool {
	decided := false
	for len(shape) > 0 {
		n := int(shape[1]) | int(shape[2])<<8
		if string(shape[3:3+n]) == string(name) {
			decided = shape[0] == 1
		}
		shape = shape[3+n:]
	}
	return decided
}

// expand turns n, an object kept as text, into its members, so that an
// older patch can merge below them. Its text came from one patch, which
// checked it; a name repeated in it keeps its last value, as a parser
// would.
func (c *composer) expand(n *composeNode) error {
	if n.raw == nil {
		return nil
	}
	d := c.e
	d.data, d.pos, d.depth = n.raw, 0, 0
	gen := n.seen            // the patch the text came from
	c.size -= len(n.raw) - 2 // its braces stay; its members are added back
	n.raw = nil
	if empty, err := d.openEmpty('}'); err != nil || empty {
		return err
	}
	for {
		name, isObject, err := d.member()
		if err != nil {
			return err
		}
		kid := n.kid(name)
		var key string
		if kid == nil {
			key = d.names.get(name) // before skipping, as in merge
		}
		start := d.pos
		shape, err := c.skipShaped(d, isObject)
		if err != nil {
			return err
		}
		if kid != nil {
			c.size += d.pos - start - len(kid.raw)
			kid.raw, kid.leaf, kid.shape = d.data[start:d.pos], !isObject, shape
		} else {
			c.add(n, key, d.data[start:d.pos], !isObject, gen).shape = shape
		}
		if done, err := d.next('}', "after object key:value pair"); err != nil || done {
			return err
		}
	}
}

// kid returns n's member called name, or nil.
func (n *composeNode) kid(name []byte) *composeNode {
	if n.index != nil {
		return n.index[string(name)] // no allocation: the compiler looks up by the bytes
	}
	for k := n.first; k != nil; k = k.next {
		if k.name == string(name) {
			return k
		}
	}
	return nil
}

// add appends a member to n and returns it.
func (c *composer) add(n *composeNode, name string, raw []byte, leaf bool, gen int) *composeNode {
	if len(c.slab) == cap(c.slab) {
		c.slab = make([]composeNode, 0, 256)
	}
	c.slab = append(c.slab, composeNode{name: name, raw: raw, leaf: leaf, seen: gen})
	c.size += len(name) + len(raw) + 3 // "name":value
	if n.n > 0 {
		c.size++ // the comma before it
	}
	k := &c.slab[len(c.slab)-1]
	if n.last == nil {
		n.first = k
	} else {
		n.last.next = k
	}
	n.last = k
	n.n++
	switch {
	case n.index != nil:
		n.index[name] = k
	case n.n > composeIndexAt:
		n.index = make(map[string]*composeNode, 2*n.n)
		for k := n.first; k != nil; k = k.next {
			n.index[k.name] = k
		}
	}
	return k
}

// appendValue appends n's value: its text, or its members as an object.
func (n *composeNode) appendValue(dst []byte) []byte {
	if n.raw != nil {
		return append(dst, n.raw...)
	}
	dst = append(dst, '{')
	for k := n.first; k != nil; k = k.next {
		if k != n.first {
			dst = append(dst, ',')
		}
		dst = jsonkit.AppendString(dst, k.name)
		dst = append(dst, ':')
		dst = k.appendValue(dst)
	}
	return append(dst, '}')
}
