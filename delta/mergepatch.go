package delta

import (
	"fmt"
	"slices"
	"strings"

	"github.com/deltasync/syncd/internal/jsonkit"
)

// mergePatch is a parsed JSON Merge Patch (RFC 7396).
//
// An object patch is kept only as its prepared members, not also as the
// map[string]any it decodes to: Apply needs the members, and building maps
// nobody reads was a third of the cost of parsing one. MarshalJSON and
// Compact, which want the value, rebuild it (patchValue).
type mergePatch struct {
	obj   bool          // the patch is an object, whose members root holds
	root  []mergeMember // the patch's members, sorted by name
	value any           // the patch, when it is not an object (it replaces the document)
	paths string        // the JSON Pointers of all members, which refer into it
	size  int           // Size of the patch with its object members' nulls removed, for when it replaces the whole document
	depth int           // Depth of the same

	// buf is the backing array of root and of every nested object's
	// members when the parser made them, kept for reuse (Release).
	buf []mergeMember
}

// mergeMember is a member of an object of the patch, prepared at parse time
// so that Apply only looks up members: names sorted (so Apply's effects come
// in a fixed order), their JSON Pointers built, and the encoded size of what
// each member would insert measured.
type mergeMember struct {
	key string
	// path is the member's JSON Pointer, recorded as touched:
	// paths[path.start:path.end] of the mergePatch. One string holds all of
	// them, so that a patch costs one allocation for its paths, not one
	// per member.
	path    span
	del     bool          // the patch value is null: remove the member
	obj     bool          // the patch value is an object: merge into an object member
	depth   int32         // Depth of what the member inserts (an int32 fits beside the bools)
	members []mergeMember // the members of that object, sorted by name, when obj
	value   any           // the patch value, when neither del nor obj
	size    int           // Size of what the member inserts: the value, or the object with its nulls removed

	kids span // while parsing: where members is in decoder.done
}

// span is the range [start, end) of a string or slice.
type span struct{ start, end int }

// ParseMergePatch parses a JSON Merge Patch. Per RFC 7396 any JSON value is
// one: an object is merged into the document, anything else replaces it.
// Errors (only malformed JSON) wrap ErrInvalidPatch.
func ParseMergePatch(data []byte) (*Patch, error) {
	d := newDecoder(data)
	p, err := d.mergePatch()
	d.release()
	return p, err
}

// mergePatch decodes a merge patch. An object is prepared in the same pass:
// its members are read straight into mergeMembers, with no maps built and
// walked again.
func (d *decoder) mergePatch() (*Patch, error) {
	d.skipSpace()
	if d.pos == len(d.data) || d.data[d.pos] != '{' {
		v, err := d.document()
		if err != nil {
			return nil, invalid(-1, "", "", err.Error())
		}
		return newMergePatch(v), nil
	}
	kids, size, depth, err := d.mergeObject(span{})
	if err != nil {
		return nil, invalid(-1, "", "", fmt.Sprintf("delta: decode: %v", err))
	}
	if err := d.end(); err != nil {
		return nil, invalid(-1, "", "", err.Error())
	}
	// Every object's members are in d.done: copy them all at once, into
	// the memory of a released patch if there is one, and point each
	// object member at its own.
	p := newPatch(MergePatch)
	all := append(p.mp.buf[:0], d.done...)
	for i := range all {
		if mm := &all[i]; mm.obj {
			mm.members = all[mm.kids.start:mm.kids.end:mm.kids.end]
		}
	}
	p.mp = mergePatch{obj: true, root: all[kids.start:kids.end:kids.end], paths: string(d.paths), size: size, depth: depth, buf: all}
	p.setMergeBounds()
	return p, nil
}

// mergeObject reads an object of a merge patch, d.pos being at '{', whose
// members' paths extend d.paths[prefix.start:prefix.end]. It appends the
// object's members, sorted, to d.done and returns where they are and the
// object's Size and Depth with its nulls removed.
func (d *decoder) mergeObject(prefix span) (kids span, size, depth int, err error) {
	if empty, err := d.openEmpty('}'); err != nil {
		return span{}, 0, 0, err
	} else if empty {
		return span{len(d.done), len(d.done)}, 2, 1, nil
	}
	base := len(d.members)
	for {
		k, err := d.key()
		if err != nil {
			return span{}, 0, 0, err
		}
		mm := mergeMember{key: k, path: span{start: len(d.paths)}}
		d.paths = append(d.paths, d.paths[prefix.start:prefix.end]...)
		d.paths = appendToken(d.paths, k)
		mm.path.end = len(d.paths)
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == '{' {
			mm.obj = true
			var depth int
			if mm.kids, mm.size, depth, err = d.mergeObject(mm.path); err != nil {
				return span{}, 0, 0, err
			}
			mm.depth = int32(depth)
		} else {
			base := d.depth
			d.deepest = base
			if mm.value, err = d.value(); err != nil {
				return span{}, 0, 0, err
			}
			if mm.value == nil {
				mm.del = true
			} else {
				mm.size = Size(mm.value)
				mm.depth = int32(d.deepest - base)
			}
		}
		d.members = append(d.members, mm)
		done, err := d.next('}', "after object key:value pair")
		if err != nil {
			return span{}, 0, 0, err
		}
		if done {
			break
		}
	}
	kids.start = len(d.done)
	d.appendSorted(base)
	kids.end = len(d.done)
	clear(d.members[base:])
	d.members = d.members[:base]
	members := d.done[kids.start:kids.end]
	return kids, measureMembers(members), membersDepth(members), nil
}

// appendSorted appends d.members[base:] to d.done sorted by name, keeping
// only the last of members with the same name (a repeated name counts with
// its last value, as in Decode). It sorts indices rather than the members,
// which are large.
func (d *decoder) appendSorted(base int) {
	ms := d.members[base:]
	order := d.order[:0]
	for i := range ms {
		order = append(order, int32(i))
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := strings.Compare(ms[a].key, ms[b].key); c != 0 {
			return c
		}
		return int(a - b)
	})
	for i, j := range order {
		if i+1 < len(order) && ms[order[i+1]].key == ms[j].key {
			continue
		}
		d.done = append(d.done, ms[j])
	}
	d.order = order[:0]
}

// newMergePatch prepares the merge patch v, which must not change afterwards.
func newMergePatch(v any) *Patch {
	p := &Patch{kind: MergePatch}
	if m, ok := v.(map[string]any); ok {
		var paths []byte
		p.mp.obj = true
		p.mp.root, p.mp.size = buildMembers(m, span{}, &paths)
		p.mp.depth = membersDepth(p.mp.root)
		p.mp.paths = string(paths)
	} else {
		p.mp.value = v
		p.mp.size = Size(v)
		p.mp.depth = Depth(v)
	}
	p.setMergeBounds()
	return p
}

// setMergeBounds sets npaths and nlog: each member changes at most one
// value, or the document is replaced once.
func (p *Patch) setMergeBounds() {
	p.npaths = max(countMembers(p.mp.root), 1)
	p.nlog = p.npaths
}

func countMembers(ms []mergeMember) int {
	n := len(ms)
	for i := range ms {
		n += countMembers(ms[i].members)
	}
	return n
}

// buildMembers prepares the members of the object m of a merge patch,
// appending their paths, which extend (*paths)[prefix.start:prefix.end], to
// *paths. It returns them and the object's Size with its nulls removed.
func buildMembers(m map[string]any, prefix span, paths *[]byte) ([]mergeMember, int) {
	members := make([]mergeMember, 0, len(m))
	for k, v := range m {
		mm := mergeMember{key: k, path: span{start: len(*paths)}}
		*paths = append(*paths, (*paths)[prefix.start:prefix.end]...)
		*paths = appendToken(*paths, k)
		mm.path.end = len(*paths)
		switch v := v.(type) {
		case nil:
			mm.del = true
		case map[string]any:
			mm.obj = true
			mm.members, mm.size = buildMembers(v, mm.path, paths)
			mm.depth = int32(membersDepth(mm.members))
		default:
			mm.value = v
			mm.size = Size(v)
			mm.depth = int32(Depth(v))
		}
		members = append(members, mm)
	}
	slices.SortFunc(members, func(a, b mergeMember) int { return strings.Compare(a.key, b.key) })
	return members, measureMembers(members)
}

// measureMembers returns the Size of the object of members with its nulls
// removed.
func measureMembers(members []mergeMember) int {
	size, kept := 2, 0
	for i := range members {
		mm := &members[i]
		if mm.del {
			continue
		}
		if kept > 0 {
			size++ // a comma
		}
		kept++
		size += jsonkit.StringSize(mm.key) + 1 + mm.size
	}
	return size
}

// membersDepth returns the Depth of the object of members with its nulls
// removed.
func membersDepth(members []mergeMember) int {
	depth := 0
	for i := range members {
		if !members[i].del {
			depth = max(depth, int(members[i].depth))
		}
	}
	return 1 + depth
}

// patchValue returns the patch as a JSON value, nulls included, as Decode
// would have returned it. Object patches build it anew each time; the
// values of members that are not objects are shared.
func (mp *mergePatch) patchValue() any {
	if !mp.obj {
		return mp.value
	}
	return membersValue(mp.root)
}

func membersValue(members []mergeMember) map[string]any {
	m := make(map[string]any, len(members))
	for i := range members {
		mm := &members[i]
		if mm.obj {
			m[mm.key] = membersValue(mm.members)
		} else {
			m[mm.key] = mm.value // nil when del
		}
	}
	return m
}

// cleanMembers builds a fresh object from members for insertion: RFC 7396
// merges an object into an absent member as if into {}, which drops its
// null members, at any depth. Arrays are values, not patches: their nulls
// stay. Values are cloned, so the document never shares the patch's.
func cleanMembers(members []mergeMember) map[string]any {
	n := 0
	for i := range members {
		if !members[i].del {
			n++
		}
	}
	m := make(map[string]any, n)
	for i := range members {
		mm := &members[i]
		switch {
		case mm.del:
		case mm.obj:
			m[mm.key] = cleanMembers(mm.members)
		default:
			m[mm.key] = Clone(mm.value)
		}
	}
	return m
}

// applyMergePatch merges p into *doc. It fails only over the budget
// (ErrTooLarge, ErrTooDeep), leaving the undoing to apply.
func (p *Patch) applyMergePatch(doc *any, c *Change) error {
	mp := &p.mp
	target, ok := (*doc).(map[string]any)
	if mp.obj && ok {
		return c.merge(target, mp.root, mp.paths, 0)
	}
	// A patch that is not an object replaces the document; so does an
	// object patch a document that is not an object, as if merged into
	// {}.
	grow := mp.size - c.measure(*doc)
	ins := insertion{depth: mp.depth}
	if err := c.allow(grow, 0, &ins, -1, "", ""); err != nil {
		return err
	}
	if mp.obj {
		c.setSlot(doc, slot{}, *doc, cleanMembers(mp.root), grow)
	} else {
		c.setSlot(doc, slot{}, *doc, Clone(mp.value), grow)
	}
	c.touch("")
	return nil
}

// merge merges members into target, an object at a pointer of at tokens.
func (c *Change) merge(target map[string]any, members []mergeMember, paths string, at int) error {
	for i := range members {
		mm := &members[i]
		path := paths[mm.path.start:mm.path.end]
		switch {
		case mm.del:
			if _, ok := target[mm.key]; ok {
				c.removeMember(target, mm.key, false)
			}
		case mm.obj:
			if sub, ok := target[mm.key].(map[string]any); ok {
				if err := c.merge(sub, mm.members, paths, at+1); err != nil {
					return err
				}
				continue
			}
			fallthrough
		default:
			grow, old, had := c.memberGrowth(target, mm.key, mm.size)
			ins := insertion{depth: int(mm.depth)}
			if err := c.allow(grow, at+1, &ins, -1, "", path); err != nil {
				return err
			}
			var v any
			if mm.obj {
				v = cleanMembers(mm.members) // a fresh object, clean of nulls
			} else {
				v = Clone(mm.value)
			}
			c.setMember(target, mm.key, v, old, had, grow)
		}
		c.touch(path)
		if err := c.checkWork(-1, path); err != nil {
			return err
		}
	}
	return nil
}
