package delta

import (
	"slices"
	"strings"
)

// mergePatch is a parsed JSON Merge Patch (RFC 7396).
type mergePatch struct {
	value any        // the patch as parsed: MarshalJSON encodes it, Compact composes it
	root  *mergeNode // the patch's members, nil when the patch is not an object
	size  int        // Size of cleanValue(value), for when it replaces the whole document
}

// mergeNode is an object of the patch, prepared at parse time so that Apply
// only looks up members: names sorted (so Apply's effects come in a fixed
// order), their JSON Pointers built, and the encoded size of what each member
// would insert measured.
type mergeNode struct {
	members []mergeMember
	size    int // Size of this object with its nulls removed
}

type mergeMember struct {
	key   string
	path  string     // JSON Pointer of the member, recorded as touched
	del   bool       // the patch value is null: remove the member
	obj   *mergeNode // the patch value is an object: merge into an object member
	value any        // the patch value, inserted (cleaned and cloned) when not merged into
	size  int        // Size of cleanValue(value)
}

// ParseMergePatch parses a JSON Merge Patch. Per RFC 7396 any JSON value is
// one: an object is merged into the document, anything else replaces it.
// Errors (only malformed JSON) wrap ErrInvalidPatch.
func ParseMergePatch(data []byte) (*Patch, error) {
	v, err := Decode(data)
	if err != nil {
		return nil, invalid(-1, "", "", err.Error())
	}
	return newMergePatch(v), nil
}

// newMergePatch prepares the merge patch v, which must not change afterwards.
func newMergePatch(v any) *Patch {
	p := &Patch{kind: MergePatch, mp: mergePatch{value: v}}
	if m, ok := v.(map[string]any); ok {
		p.mp.root = buildMergeNode(m, nil, &p.npaths)
		p.mp.size = p.mp.root.size
	} else {
		p.mp.size = Size(v)
	}
	// Each member changes at most one value, or the document is replaced
	// once.
	p.npaths = max(p.npaths, 1)
	p.nlog = p.npaths
	return p
}

func buildMergeNode(m map[string]any, prefix []byte, npaths *int) *mergeNode {
	n := &mergeNode{members: make([]mergeMember, 0, len(m)), size: 2}
	kept := 0 // members that survive cleaning, for the commas
	for k, v := range m {
		path := appendToken(prefix, k)
		mm := mergeMember{key: k, path: string(path), value: v}
		switch v := v.(type) {
		case nil:
			mm.del = true
		case map[string]any:
			mm.obj = buildMergeNode(v, path, npaths)
			mm.size = mm.obj.size
		default:
			mm.size = Size(v)
		}
		if !mm.del {
			if kept > 0 {
				n.size++ // a comma
			}
			kept++
			n.size += stringSize(k) + 1 + mm.size
		}
		n.members = append(n.members, mm)
		*npaths++
	}
	slices.SortFunc(n.members, func(a, b mergeMember) int { return strings.Compare(a.key, b.key) })
	return n
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
	if mp.root == nil || !ok {
		// A patch that is not an object replaces the document; an object
		// patch replaces a document that is not an object, as if merged
		// into {}.
		c.setSlot(doc, slot{}, *doc, cleanValue(mp.value), mp.size)
		c.touch("")
		return
	}
	c.merge(target, mp.root)
}

func (c *Change) merge(target map[string]any, n *mergeNode) {
	for i := range n.members {
		mm := &n.members[i]
		if mm.del {
			if _, ok := target[mm.key]; ok {
				c.removeMember(target, mm.key, Size)
			}
			c.touch(mm.path)
			continue
		}
		if mm.obj != nil {
			if sub, ok := target[mm.key].(map[string]any); ok {
				c.merge(sub, mm.obj)
				continue
			}
		}
		c.setMember(target, mm.key, cleanValue(mm.value), mm.size)
		c.touch(mm.path)
	}
}
