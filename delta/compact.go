package delta

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
// immutable, so that is safe. ps must not contain nil. It costs time linear
// in the patches' total size (see Compactor).
func Compact(ps []*Patch) []*Patch {
	var c Compactor
	for _, p := range ps {
		c.Add(p)
	}
	runs := c.Runs()
	out := make([]*Patch, len(runs))
	for i, r := range runs {
		out[i] = r.Patch()
	}
	return out
}

// Run is one patch of a compaction's result: N consecutive input patches
// combined, by Compact's rules.
type Run struct {
	Kind Kind
	N    int
	// patch is the result as a Patch: the input itself when N = 1 and it
	// was added as one, or the concatenated JSON Patch. Otherwise value
	// is the merge patch, which the Run owns; raw says it holds rawJSON
	// (AddJSON).
	patch *Patch
	value any
	raw   bool
}

// Patch returns the run's patch. For a merge patch built by the Compactor
// it is prepared on each call; use AppendJSON for the encoding only.
func (r Run) Patch() *Patch {
	if r.patch != nil {
		return r.patch
	}
	if r.raw {
		// Values kept as text must be decoded before a document may
		// hold them: parse the encoding.
		b, err := AppendEncode(nil, r.value)
		if err == nil {
			var p *Patch
			if p, err = ParseMergePatch(b); err == nil {
				return p
			}
		}
		panic("delta: a compacted merge patch does not parse: " + err.Error()) // its parts did
	}
	return newMergePatch(r.value)
}

// AppendJSON appends the run's patch as Patch.AppendJSON would, without
// preparing a merge patch for Apply first.
func (r Run) AppendJSON(dst []byte) ([]byte, error) {
	if r.patch != nil {
		return r.patch.AppendJSON(dst)
	}
	return AppendEncode(dst, r.value)
}

// Compactor compacts a run of patches given one at a time, by Compact's
// rules, and says which inputs each result stands for.
//
// It costs time linear in the patches' total size: the patch being built
// is an accumulator the Compactor owns (an operation list, or a merge
// patch's value) that each new patch extends in place, rather than a new
// patch copied from the previous one at every step, which made a run of n
// patches cost O(n²). The zero Compactor is ready to use; it is not safe
// for concurrent use.
type Compactor struct {
	runs []Run

	// The run being built: n patches of kind. first is the first patch
	// when it was added as a Patch and nothing has combined with it yet.
	n     int
	kind  Kind
	first *Patch
	// ops (JSONPatch) or merged (MergePatch, when first is nil) is the
	// run's patch so far, owned by the Compactor.
	ops          []op
	npaths, nlog int
	merged       any
	raw          bool // merged holds rawJSON

	undo []memberUndo // mergeText's scratch
}

// Add appends p to the run. p must not be nil.
func (c *Compactor) Add(p *Patch) {
	if p.kind == MergePatch {
		c.addMerge(p, nil, false)
		return
	}
	if c.n > 0 && c.kind == JSONPatch {
		if c.first != nil {
			c.ops = append(make([]op, 0, 2*(len(c.first.ops)+len(p.ops))), c.first.ops...)
			c.npaths, c.nlog = c.first.npaths, c.first.nlog
			c.first = nil
		}
		c.ops = append(c.ops, p.ops...)
		c.npaths += p.npaths
		c.nlog += p.nlog
		c.n++
		return
	}
	c.flush()
	c.n, c.kind, c.first = 1, JSONPatch, p
}

// AddJSON appends the patch of the given kind whose text is data, as Add
// of the parsed patch would. A merge patch is decoded straight into the
// value the composition edits, once, rather than prepared for Apply first,
// and its values other than objects are kept as text (data must not change
// until Runs' results are encoded). Errors wrap ErrInvalidPatch; the run is
// then unchanged.
func (c *Compactor) AddJSON(kind Kind, data []byte) error {
	switch kind {
	case JSONPatch:
		p, err := ParseJSONPatch(data)
		if err != nil {
			return err
		}
		c.Add(p)
		return nil
	case MergePatch:
		if c.n > 0 && c.kind == MergePatch {
			acc := c.merged
			if c.first != nil {
				acc = c.first.mp.patchValue()
			}
			if am, isObj := acc.(map[string]any); isObj {
				ok, err := mergeText(am, data, &c.undo)
				if err != nil {
					return invalid(-1, "", "", err.Error())
				}
				if ok {
					c.merged, c.first, c.raw = am, nil, true
					c.n++
					return nil
				}
			}
		}
		v, err := decodeRaw(data)
		if err != nil {
			return invalid(-1, "", "", err.Error())
		}
		c.addMerge(nil, v, true)
		return nil
	default:
		return invalid(-1, "", "", "unknown patch kind")
	}
}

// addMerge appends the merge patch p, or (p nil) the merge patch value v,
// which the Compactor then owns; raw says v holds rawJSON.
func (c *Compactor) addMerge(p *Patch, v any, raw bool) {
	if p != nil {
		v = p.mp.patchValue() // fresh maps: the Compactor may keep and edit them
	}
	if c.n > 0 && c.kind == MergePatch {
		acc := c.merged
		if c.first != nil {
			acc = c.first.mp.patchValue()
		}
		if vm, ok := v.(map[string]any); !ok {
			// A non-object replaces whatever came before.
			c.merged, c.first, c.raw = v, nil, raw
			c.n++
			return
		} else if am, ok := acc.(map[string]any); ok && composable(am, vm) {
			mergeInto(am, vm)
			c.merged, c.first, c.raw = am, nil, c.raw || raw
			c.n++
			return
		}
	}
	c.flush()
	c.n, c.kind, c.first, c.merged, c.raw = 1, MergePatch, p, v, raw
}

// flush ends the run being built.
func (c *Compactor) flush() {
	switch {
	case c.n == 0:
		return
	case c.first != nil:
		c.runs = append(c.runs, Run{Kind: c.kind, N: c.n, patch: c.first})
	case c.kind == JSONPatch:
		c.runs = append(c.runs, Run{Kind: JSONPatch, N: c.n, patch: &Patch{kind: JSONPatch, ops: c.ops, npaths: c.npaths, nlog: c.nlog}})
	default:
		c.runs = append(c.runs, Run{Kind: MergePatch, N: c.n, value: c.merged, raw: c.raw})
	}
	c.n, c.first, c.ops, c.merged, c.raw = 0, nil, nil, nil, false
	c.npaths, c.nlog = 0, 0
}

// Runs ends the compaction and returns its result, in order; the sum of the
// runs' N is the number of patches added. The Compactor is then empty and
// may be used again.
func (c *Compactor) Runs() []Run {
	c.flush()
	runs := c.runs
	c.runs = nil
	return runs
}

// The composition of merge patches a then b, both objects, is a merge patch
// c with merge(merge(t, a), b) == merge(t, c) for every document t, if one
// exists. c has a's members, overridden by b's: a member of b that is not an
// object replaces a's; an object member of b composes with a's member of the
// same name, by the same rule, or is taken as is when a has no such member
// (it then merges into t's member, exactly as it would have after a). It
// does not exist when an object member of b meets a member of a that is not
// an object (null included): a leaves a known non-object that b turns into a
// fresh object, which no merge into t expresses.

// composable reports whether the merge patch objects a then b compose. It
// walks only b's object members that a also has, so it costs at most b's
// size.
//
// a's objects may be kept as text (rawJSON, see mergeTextInto); b's are
// maps.
func composable(a, b map[string]any) bool {
	for k, bv := range b {
		bm, ok := bv.(map[string]any)
		if !ok {
			continue
		}
		av, had := a[k]
		if !had {
			continue
		}
		am, ok := asObject(av)
		if !ok || !composable(am, bm) {
			return false
		}
	}
	return true
}

// mergeInto composes b into a, in place; composable(a, b) must hold. a
// takes b's members, maps included: both must be owned by the caller.
func mergeInto(a, b map[string]any) {
	for k, bv := range b {
		if bm, ok := bv.(map[string]any); ok {
			if am, ok := asObject(a[k]); ok {
				a[k] = am // decoded, if it was text
				mergeInto(am, bm)
				continue
			}
		}
		a[k] = bv
	}
}
