package delta

import (
	"bytes"
)

// Kind is the format of a patch.
type Kind uint8

const (
	// JSONPatch is RFC 6902: a JSON array of operations.
	JSONPatch Kind = iota + 1
	// MergePatch is RFC 7396: a JSON value merged into the document.
	MergePatch
)

func (k Kind) String() string {
	switch k {
	case JSONPatch:
		return "json-patch"
	case MergePatch:
		return "merge-patch"
	default:
		return "invalid"
	}
}

// Patch is a parsed patch of either kind. It is immutable once parsed, so it
// can be applied to any number of documents, from several goroutines.
type Patch struct {
	kind Kind
	ops  []op       // JSONPatch
	mp   mergePatch // MergePatch
	// npaths and nlog bound the number of paths and undo entries one Apply
	// records, to allocate each list once.
	npaths, nlog int
}

// ParsePatch parses a patch whose kind is told by its shape: a JSON array
// is a JSON Patch, a JSON object a JSON Merge Patch. Anything else is an
// error (RFC 7396 allows any value as a merge patch, but a scalar or array
// would replace the whole document, and that is too easily a mistaken
// JSON Patch; use ParseMergePatch to accept it). Errors wrap ErrInvalidPatch.
func ParsePatch(data []byte) (*Patch, error) {
	switch firstByte(data) {
	case '[':
		return ParseJSONPatch(data)
	case '{':
		return ParseMergePatch(data)
	default:
		return nil, invalid(-1, "", "", "a patch must be a JSON array (JSON Patch) or object (JSON Merge Patch)")
	}
}

func firstByte(data []byte) byte {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 {
		return 0
	}
	return data[0]
}

// Kind returns the patch's format.
func (p *Patch) Kind() Kind { return p.kind }

// Len returns the number of operations of a JSON Patch, and 1 for a merge
// patch.
func (p *Patch) Len() int {
	if p.kind == MergePatch {
		return 1
	}
	return len(p.ops)
}

// MarshalJSON returns the patch in compact JSON: a merge patch in the
// canonical encoding of Encode; a JSON Patch as an array of operations whose
// members come in the order op, from, path, value. Parsing the result gives
// an equivalent patch. Compact's results are stored and sent this way.
func (p *Patch) MarshalJSON() ([]byte, error) {
	return p.AppendJSON(nil)
}

// AppendJSON appends what MarshalJSON returns to dst.
func (p *Patch) AppendJSON(dst []byte) ([]byte, error) {
	if p.kind == MergePatch {
		return AppendEncode(dst, p.mp.patchValue())
	}
	orig := dst
	dst = append(dst, '[')
	for i := range p.ops {
		if i > 0 {
			dst = append(dst, ',')
		}
		o := &p.ops[i]
		dst = append(dst, `{"op":`...)
		dst = appendString(dst, o.code.String())
		if o.code == opMove || o.code == opCopy {
			dst = append(dst, `,"from":`...)
			dst = appendString(dst, o.from.text)
		}
		dst = append(dst, `,"path":`...)
		dst = appendString(dst, o.path.text)
		if o.code.hasValue() {
			dst = append(dst, `,"value":`...)
			var err error
			if dst, err = AppendEncode(dst, o.value); err != nil {
				return orig, err
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, ']'), nil
}

// Apply applies p to *doc in place and describes what it did.
//
// It is atomic: on error *doc is exactly as before (the mutations made so far
// are undone). Its cost is proportional to the patch, plus the length of the
// arrays it inserts into or removes from, plus the size of the values it
// removes, replaces, copies or tests (they must be measured for SizeDelta,
// copied or compared); it never walks, copies or encodes the rest of the
// document. Values taken from the patch are cloned before they are inserted,
// so p stays reusable and the document never shares memory with it.
//
// Errors wrap ErrPathNotFound or ErrTestFailed (a merge patch cannot fail).
func (p *Patch) Apply(doc *any) (_ *Change, err error) {
	c := &Change{paths: make([]string, 0, p.npaths)}
	if p.nlog > len(c.logSpace) {
		c.log = make([]undoEntry, 0, p.nlog)
	}
	defer func() {
		// Even a panic midway (a bug) must not leave a half-applied
		// document behind.
		if r := recover(); r != nil {
			c.Undo(doc)
			panic(r)
		}
	}()
	switch p.kind {
	case JSONPatch:
		err = p.applyJSONPatch(doc, c)
	case MergePatch:
		p.applyMergePatch(doc, c)
	default:
		err = invalid(-1, "", "", "zero Patch")
	}
	if err != nil {
		c.Undo(doc)
		return nil, err
	}
	c.Paths = PathSet{p: reducePaths(c.paths)}
	c.paths = nil
	return c, nil
}
