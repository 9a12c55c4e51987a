package delta

import (
	"fmt"
	"slices"
	"strings"
)

// mergePatch is a parsed JSON Merge Patch (RFC 7396).
type mergePatch struct {
	value any       // the patch as parsed: MarshalJSON encodes it, Compact composes it
	obj   bool      // the patch is an object, whose members root holds
	root  mergeNode // the patch's members
	paths string    // the JSON Pointers of all members, which refer into it
	size  int       // Size of cleanValue(value), for when it replaces the whole document
}

// mergeNode is an object of the patch, prepared at parse time so that Apply
// only looks up members: names sorted (so Apply's effects come in a fixed
// order), their JSON Pointers built, and the encoded size of what each member
// would insert measured.
type mergeNode struct {
	members []mergeMember
	size    int // Size of this object with its nulls removed
	count   int // members of this object and of the objects nested in it
}

type mergeMember struct {
	key string
	// path is the member's JSON Pointer, recorded as touched: paths[path.start:path.end]
	// of the mergePatch. One string holds all of them, so that a patch
	// costs one allocation for its paths, not one per member.
	path  span
	del   bool      // the patch value is null: remove the member
	obj   bool      // the patch value is an object: merge into an object member
	node  mergeNode // the members of that object, when obj
	value any       // the patch value, inserted (cleaned and cloned) when not merged into
	size  int       // Size of cleanValue(value)
}

// span is the range [start, end) of a string.
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

// mergePatch decodes a merge patch and, when it is an object, prepares its
// members in the same pass: the value (which Apply inserts and Compact
// composes) and the members come from the same bytes, without walking the
// decoded maps again.
func (d *decoder) mergePatch() (*Patch, error) {
	d.skipSpace()
	if d.pos == len(d.data) || d.data[d.pos] != '{' {
		v, err := d.document()
		if err != nil {
			return nil, invalid(-1, "", "", err.Error())
		}
		return newMergePatch(v), nil
	}
	m, root, err := d.mergeObject(span{})
	if err != nil {
		return nil, invalid(-1, "", "", fmt.Sprintf("delta: decode: %v", err))
	}
	if err := d.end(); err != nil {
		return nil, invalid(-1, "", "", err.Error())
	}
	p := &Patch{kind: MergePatch, mp: mergePatch{value: m, obj: true, root: root, paths: string(d.paths), size: root.size}}
	p.setMergeBounds()
	return p, nil
}

// mergeObject reads an object of a merge patch, d.pos being at '{', whose
// members' paths extend d.paths[prefix.start:prefix.end]. It returns the
// object as Decode would, and its members prepared.
func (d *decoder) mergeObject(prefix span) (map[string]any, mergeNode, error) {
	if err := d.open(); err != nil {
		return nil, mergeNode{}, err
	}
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return map[string]any{}, mergeNode{size: 2}, nil
	}
	base, mbase := len(d.vals), len(d.members)
	for {
		k, err := d.key()
		if err != nil {
			return nil, mergeNode{}, err
		}
		mm := mergeMember{key: k, path: span{start: len(d.paths)}}
		d.paths = append(d.paths, d.paths[prefix.start:prefix.end]...)
		d.paths = appendToken(d.paths, k)
		mm.path.end = len(d.paths)
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == '{' {
			var m map[string]any
			if m, mm.node, err = d.mergeObject(mm.path); err != nil {
				return nil, mergeNode{}, err
			}
			mm.value, mm.obj, mm.size = m, true, mm.node.size
		} else {
			if mm.value, err = d.value(); err != nil {
				return nil, mergeNode{}, err
			}
			if mm.value == nil {
				mm.del = true
			} else {
				mm.size = Size(mm.value)
			}
		}
		d.keys = append(d.keys, k)
		d.vals = append(d.vals, mm.value)
		d.members = append(d.members, mm)
		done, err := d.next('}', "after object key:value pair")
		if err != nil {
			return nil, mergeNode{}, err
		}
		if done {
			break
		}
	}
	m := d.popObject(base)
	n := mergeNode{members: d.sortedMembers(mbase)}
	clear(d.members[mbase:])
	d.members = d.members[:mbase]
	n.measure()
	return m, n, nil
}

// sortedMembers returns a copy of d.members[base:] sorted by name, keeping
// only the last of members with the same name (a repeated name counts with
// its last value, as in Decode). It sorts indices rather than the members,
// which are large.
func (d *decoder) sortedMembers(base int) []mergeMember {
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
	n := len(order)
	for i := 1; i < len(order); i++ {
		if ms[order[i]].key == ms[order[i-1]].key {
			n--
		}
	}
	out := make([]mergeMember, 0, n)
	for i, j := range order {
		if i+1 < len(order) && ms[order[i+1]].key == ms[j].key {
			continue
		}
		out = append(out, ms[j])
	}
	d.order = order[:0]
	return out
}

// newMergePatch prepares the merge patch v, which must not change afterwards.
func newMergePatch(v any) *Patch {
	p := &Patch{kind: MergePatch, mp: mergePatch{value: v}}
	if m, ok := v.(map[string]any); ok {
		var paths []byte
		p.mp.obj = true
		p.mp.root = buildMergeNode(m, span{}, &paths)
		p.mp.paths = string(paths)
		p.mp.size = p.mp.root.size
	} else {
		p.mp.size = Size(v)
	}
	p.setMergeBounds()
	return p
}

// setMergeBounds sets npaths and nlog: each member changes at most one
// value, or the document is replaced once.
func (p *Patch) setMergeBounds() {
	p.npaths = max(p.mp.root.count, 1)
	p.nlog = p.npaths
}

// buildMergeNode prepares the object m of a merge patch, appending its
// members' paths, which extend (*paths)[prefix.start:prefix.end], to *paths.
func buildMergeNode(m map[string]any, prefix span, paths *[]byte) mergeNode {
	members := make([]mergeMember, 0, len(m))
	for k, v := range m {
		mm := mergeMember{key: k, value: v, path: span{start: len(*paths)}}
		*paths = append(*paths, (*paths)[prefix.start:prefix.end]...)
		*paths = appendToken(*paths, k)
		mm.path.end = len(*paths)
		switch v := v.(type) {
		case nil:
			mm.del = true
		case map[string]any:
			mm.obj = true
			mm.node = buildMergeNode(v, mm.path, paths)
			mm.size = mm.node.size
		default:
			mm.size = Size(v)
		}
		members = append(members, mm)
	}
	slices.SortFunc(members, func(a, b mergeMember) int { return strings.Compare(a.key, b.key) })
	n := mergeNode{members: members}
	n.measure()
	return n
}

// measure sets n's size and count from its members.
func (n *mergeNode) measure() {
	n.size, n.count = 2, len(n.members)
	nonNull := 0 // members that survive cleaning, for the commas
	for i := range n.members {
		mm := &n.members[i]
		n.count += mm.node.count
		if mm.del {
			continue
		}
		if nonNull > 0 {
			n.size++ // a comma
		}
		nonNull++
		n.size += stringSize(mm.key) + 1 + mm.size
	}
}

// cleanValue clones a patch value for insertion: RFC 7396 merges an object
// into an absent member as if into {}, which drops its null members, at any
// depth. Arrays are values, not patches: their nulls stay.
func cleanValue(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return Clone(v)
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		if x != nil {
			out[k] = cleanValue(x)
		}
	}
	return out
}

func (p *Patch) applyMergePatch(doc *any, c *Change) {
	mp := &p.mp
	target, ok := (*doc).(map[string]any)
	if !mp.obj || !ok {
		// A patch that is not an object replaces the document; an object
		// patch replaces a document that is not an object, as if merged
		// into {}.
		c.setSlot(doc, slot{}, *doc, cleanValue(mp.value), mp.size)
		c.touch("")
		return
	}
	c.merge(target, &mp.root, mp.paths)
}

func (c *Change) merge(target map[string]any, n *mergeNode, paths string) {
	for i := range n.members {
		mm := &n.members[i]
		if mm.del {
			if _, ok := target[mm.key]; ok {
				c.removeMember(target, mm.key, Size)
			}
			c.touch(paths[mm.path.start:mm.path.end])
			continue
		}
		if mm.obj {
			if sub, ok := target[mm.key].(map[string]any); ok {
				c.merge(sub, &mm.node, paths)
				continue
			}
		}
		c.setMember(target, mm.key, cleanValue(mm.value), mm.size)
		c.touch(paths[mm.path.start:mm.path.end])
	}
}
