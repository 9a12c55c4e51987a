package delta

// Composing a merge patch's text straight into the Compactor's accumulator.
//
// Decoding each patch of a long run into maps only to walk them once into
// the accumulator costs an allocation per object of every patch, and a
// catch-up composes a thousand of them. mergeText instead reads the patch
// and edits the accumulator as it goes: members the accumulator already
// holds as objects are merged into in place, and other values, objects new
// to the accumulator included, are kept as text (rawJSON) until a later
// patch merges into them.
//
// The composition can turn out impossible halfway (an object of the patch
// meets a non-object, composable's rule), and a patch may name a member
// twice (the last one counts, as when it is parsed): either way mergeText
// stops, the changes made so far are undone from an undo log, and the
// caller falls back to decoding the whole patch.

// memberUndo restores m[key] to old (had false: deletes it).
type memberUndo struct {
	m   map[string]any
	key string
	old any
	had bool
}

// maxStreamMembers bounds an object mergeText reads member by member: it
// looks for a repeated name by scanning the names read so far.
const maxStreamMembers = 32

// fallBack stops mergeText without a syntax error.
type fallBack struct{}

func (fallBack) Error() string { return "delta: fall back to decoding" }

// mergeText composes the merge patch object whose text is data into acc,
// in place. ok false means acc is unchanged (undone) and the caller must
// decode data instead; err is a syntax error of data.
func mergeText(acc map[string]any, data []byte, undo *[]memberUndo) (ok bool, err error) {
	d := newDecoder(data)
	d.rawLeaves = true
	defer d.release()
	*undo = (*undo)[:0]
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return false, nil
	}
	err = d.mergeTextInto(acc, undo)
	if err == nil {
		err = d.end()
	}
	if err != nil {
		u := *undo
		for i := len(u) - 1; i >= 0; i-- {
			if u[i].had {
				u[i].m[u[i].key] = u[i].old
			} else {
				delete(u[i].m, u[i].key)
			}
		}
		clear(u)
		*undo = u[:0]
		if _, stop := err.(fallBack); stop {
			return false, nil
		}
		return false, err
	}
	clear(*undo)
	*undo = (*undo)[:0]
	return true, nil
}

// mergeTextInto composes the object at d.pos into a, logging every change.
func (d *decoder) mergeTextInto(a map[string]any, undo *[]memberUndo) error {
	if empty, err := d.openEmpty('}'); err != nil {
		return err
	} else if empty {
		return nil
	}
	base := len(d.keys) // the names of this object so far, to find a repeat
	defer func() { clear(d.keys[base:]); d.keys = d.keys[:base] }()
	for {
		k, err := d.key()
		if err != nil {
			return err
		}
		if len(d.keys)-base >= maxStreamMembers {
			return fallBack{}
		}
		for _, seen := range d.keys[base:] {
			if seen == k {
				return fallBack{}
			}
		}
		d.keys = append(d.keys, k)
		d.skipSpace()
		if d.pos >= len(d.data) {
			return d.errAt(d.pos, "")
		}
		av, had := a[k]
		if d.data[d.pos] == '{' {
			if am, isObj := asObject(av); isObj {
				if _, isMap := av.(map[string]any); !isMap {
					// Kept as text so far: now it is merged into.
					*undo = append(*undo, memberUndo{m: a, key: k, old: av, had: true})
					a[k] = am
				}
				if err := d.mergeTextInto(am, undo); err != nil {
					return err
				}
			} else if had {
				return fallBack{} // not composable: a leaves a non-object here
			} else {
				// New to a: kept as text until something merges into it.
				start := d.pos
				if err := d.skipObject(); err != nil {
					return err
				}
				*undo = append(*undo, memberUndo{m: a, key: k})
				a[k] = rawJSON(d.data[start:d.pos])
			}
		} else {
			v, err := d.rawLeaf()
			if err != nil {
				return err
			}
			*undo = append(*undo, memberUndo{m: a, key: k, old: av, had: had})
			a[k] = v
		}
		if done, err := d.next('}', "after object key:value pair"); err != nil || done {
			return err
		}
	}
}
