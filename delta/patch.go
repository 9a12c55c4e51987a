package delta

import (
	"bytes"
	"sync"

	"github.com/deltasync/syncd/internal/jsonkit"
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
// can be applied to any number of documents, from several goroutines, until
// its owner releases it (Release).
type Patch struct {
	kind Kind
	ops  []op       // JSONPatch
	mp   mergePatch // MergePatch
	// npaths and nlog bound the number of paths and undo entries one Apply
	// records, to allocate each list once.
	npaths, nlog int
	// parsed is set on patches made by the parsers, which own their
	// memory and so may give it back (Release).
	parsed bool
}

// patches holds Patches given back by Release, with their memory (a
// merge patch's members, a JSON Patch's operations), for the parsers to
// reuse: a server parses every edit, applies it once and drops it.
var patches = sync.Pool{New: func() any { return new(Patch) }}

// newPatch returns an empty parsed Patch of kind, reusing a released one.
func newPatch(kind Kind) *Patch {
	p := patches.Get().(*Patch)
	p.kind, p.parsed = kind, true
	return p
}

// Release gives p's memory back for reuse by later parses. Only a caller
// that is done with p and never shared it may call it: p must not be used
// afterwards, by anyone. Documents and Changes that p was applied to do
// not refer to p (Apply clones what it inserts; Paths are strings of their
// own), so they stay valid. Release of a Patch not returned by a parser
// does nothing.
func (p *Patch) Release() {
	if p == nil || !p.parsed {
		return
	}
	// Do not keep what a large patch grew.
	if cap(p.ops) > 256 || cap(p.mp.buf) > 256 {
		return
	}
	ops, buf := p.ops[:cap(p.ops)], p.mp.buf[:cap(p.mp.buf)]
	clear(ops) // drop references to values and strings
	clear(buf)
	*p = Patch{ops: ops[:0], mp: mergePatch{buf: buf[:0]}}
	patches.Put(p)
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
		dst = jsonkit.AppendString(dst, o.code.String())
		if o.code == opMove || o.code == opCopy {
			dst = append(dst, `,"from":`...)
			dst = jsonkit.AppendString(dst, o.from.text)
		}
		dst = append(dst, `,"path":`...)
		dst = jsonkit.AppendString(dst, o.path.text)
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
// Apply has no Budget: a caller taking patches from others should use
// ApplyWithin.
func (p *Patch) Apply(doc *any) (*Change, error) {
	c := &Change{paths: make([]string, 0, p.npaths)}
	if p.nlog > len(c.logSpace) {
		c.log = make([]undoEntry, 0, p.nlog)
	}
	if err := p.apply(doc, c); err != nil {
		return nil, err
	}
	c.Paths = encodePaths(reducePaths(c.paths))
	c.paths = nil
	return c, nil
}

// ApplyTo is Apply recording into c, which it resets first, instead of
// into a new Change. c's undo log and scratch list of paths are reused, so
// a caller applying patch after patch with one Change allocates little
// more than each one's Paths. On success c is what Apply would have
// returned (call c.Reset once Undo is no longer needed, so that c does not
// hold on to the document's old values); on error c is empty and *doc is
// unchanged.
func (p *Patch) ApplyTo(doc *any, c *Change) error { return p.ApplyWithin(doc, c, Budget{}) }

// apply applies p to *doc, recording into c; on error it undoes what it
// did.
func (p *Patch) apply(doc *any, c *Change) (err error) {
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
		err = p.applyMergePatch(doc, c)
	default:
		err = invalid(-1, "", "", "zero Patch")
	}
	if err != nil {
		c.Undo(doc)
	}
	return err
}
