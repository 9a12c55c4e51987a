package delta

import "maps"

// Compact combines a run of patches into fewer patches with the same effect:
// applying the result in sequence to any document gives the same document as
// applying ps in sequence, and fails exactly when that fails. It lets the
// engine send or store one patch for many.
//
//   - Consecutive JSON Patches concatenate into one. (The concatenation
//     fails where the sequence would have failed, and one Apply is atomic
//     where the sequence would have stopped halfway; callers that stop at the
//     first failure see no difference.)
//   - Consecutive merge patches compose into one where that is provably
//     equivalent. It is not when an earlier patch sets a member (or the
//     whole document) to a non-object or deletes it, and a later one merges
//     an object into it: the later patch then builds a fresh object, and a
//     single merge patch can only merge into what the document already
//     holds. Such pairs stay separate.
//   - A JSON Patch and a merge patch never combine.
//
// The result shares unchanged patches and parsed values with ps; patches are
// immutable, so that is safe. ps must not contain nil.
func Compact(ps []*Patch) []*Patch {
	out := make([]*Patch, 0, len(ps))
	for _, p := range ps {
		if len(out) > 0 {
			if c, ok := combine(out[len(out)-1], p); ok {
				out[len(out)-1] = c
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

// combine returns one patch equivalent to a followed by b, if there is one.
func combine(a, b *Patch) (*Patch, bool) {
	switch {
	case a.kind == JSONPatch && b.kind == JSONPatch:
		ops := make([]op, 0, len(a.ops)+len(b.ops))
		ops = append(ops, a.ops...)
		ops = append(ops, b.ops...)
		return &Patch{kind: JSONPatch, ops: ops, npaths: a.npaths + b.npaths, nlog: a.nlog + b.nlog}, true
	case a.kind == MergePatch && b.kind == MergePatch:
		v, ok := composeMerge(a.mp.patchValue(), b.mp.patchValue())
		if !ok {
			return nil, false
		}
		return newMergePatch(v), true
	default:
		return nil, false
	}
}

// composeMerge returns a merge patch c with merge(merge(t, a), b) ==
// merge(t, c) for every document t, if one exists.
//
// If b is not an object, it replaces whatever a produced: c = b. If b is an
// object, a must be one too (otherwise a leaves a known non-object that b
// turns into a fresh object, which no merge into t expresses). Then c has
// a's members, overridden by b's: a member of b that is not an object
// replaces a's; an object member of b composes with a's member of the same
// name, by the same rule, or is taken as is when a has no such member (it
// then merges into t's member, exactly as it would have after a).
func composeMerge(a, b any) (any, bool) {
	bm, ok := b.(map[string]any)
	if !ok {
		return b, true
	}
	am, ok := a.(map[string]any)
	if !ok {
		return nil, false
	}
	c := make(map[string]any, len(am)+len(bm))
	maps.Copy(c, am)
	for k, bv := range bm {
		av, had := am[k]
		if _, isObj := bv.(map[string]any); !isObj || !had {
			c[k] = bv
			continue
		}
		cv, ok := composeMerge(av, bv)
		if !ok {
			return nil, false
		}
		c[k] = cv
	}
	return c, true
}
