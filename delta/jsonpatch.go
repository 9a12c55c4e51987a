package delta

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

type opCode uint8

const (
	opAdd opCode = iota
	opRemove
	opReplace
	opMove
	opCopy
	opTest
)

var opNames = [...]string{opAdd: "add", opRemove: "remove", opReplace: "replace", opMove: "move", opCopy: "copy", opTest: "test"}

func (c opCode) String() string { return opNames[c] }

// hasValue reports whether the operation carries a "value" member.
func (c opCode) hasValue() bool { return c == opAdd || c == opReplace || c == opTest }

// op is one parsed JSON Patch operation.
type op struct {
	code opCode
	// depth is Depth(value), seen while parsing it (at most the
	// decoder's 10,000). An int32 beside code fits in what would be
	// padding: ops are parsed for every edit, and a larger op is a
	// larger allocation.
	depth int32
	path  pointer
	from  pointer // move and copy
	value any     // add, replace and test
	size  int     // Size(value), measured once at parse time
}

// ParseJSONPatch parses a JSON Patch (RFC 6902): a JSON array of operation
// objects. Everything that can be checked without a document is checked
// here: each operation's "op", the presence and type of "path", "from" and
// "value", pointer syntax, that no move goes into its own child, and that no
// remove targets the whole document (which would leave no document).
// Members an operation does not use are ignored, as RFC 6902 §4 requires;
// a member given twice counts with its last value, as in Decode.
// Errors wrap ErrInvalidPatch.
func ParseJSONPatch(data []byte) (*Patch, error) {
	d := newDecoder(data)
	p, err := d.jsonPatch()
	d.release()
	return p, err
}

// rawOp is an operation as read from the patch, before it is checked.
// Operations are read straight from the bytes into these, without building
// a map per operation; the checks wait until the whole patch has been read,
// so that malformed JSON anywhere is reported as such, before any
// operation's mistake.
type rawOp struct {
	notObject      bool
	op, path, from rawMember
	value          any
	valueDepth     int32
	hasValue       bool
}

// rawMember is an operation member that must be a string.
type rawMember struct {
	present, isString bool
	s                 string
}

func (d *decoder) jsonPatch() (*Patch, error) {
	d.skipSpace()
	if d.pos == len(d.data) || d.data[d.pos] != '[' {
		if _, err := d.document(); err != nil {
			return nil, invalid(-1, "", "", err.Error())
		}
		return nil, invalid(-1, "", "", "a JSON Patch must be a JSON array")
	}
	if err := d.rawOps(); err != nil {
		return nil, invalid(-1, "", "", fmt.Sprintf("delta: decode: %v", err))
	}
	if err := d.end(); err != nil {
		return nil, invalid(-1, "", "", err.Error())
	}
	// The pointers' tokens share one allocation, sized by their '/'s.
	ntoks := 0
	for i := range d.ops {
		ntoks += strings.Count(d.ops[i].path.s, "/") + strings.Count(d.ops[i].from.s, "/")
	}
	toks := make([]string, 0, ntoks)
	p := newPatch(JSONPatch)
	p.ops = slices.Grow(p.ops[:0], len(d.ops))[:len(d.ops)]
	for i := range d.ops {
		o := &p.ops[i]
		if err := d.ops[i].parse(o, i, &toks); err != nil {
			p.Release()
			return nil, err
		}
		switch o.code {
		case opMove:
			p.npaths += 2
			p.nlog += 2
		case opCopy:
			p.npaths += 2
			p.nlog++
		case opTest:
			p.npaths++
		default:
			p.npaths++
			p.nlog++
		}
	}
	return p, nil
}

// rawOps reads the array of operations into d.ops, d.pos being at '['.
func (d *decoder) rawOps() error {
	if empty, err := d.openEmpty(']'); err != nil {
		return err
	} else if empty {
		return nil
	}
	for {
		d.skipSpace()
		d.ops = append(d.ops, rawOp{})
		o := &d.ops[len(d.ops)-1]
		if d.pos < len(d.data) && d.data[d.pos] == '{' {
			if err := d.rawOp(o); err != nil {
				return err
			}
		} else {
			o.notObject = true
			if _, err := d.value(); err != nil {
				return err
			}
		}
		if done, err := d.next(']', "after array element"); err != nil || done {
			return err
		}
	}
}

// rawOp reads one operation object, d.pos being at '{'.
func (d *decoder) rawOp(o *rawOp) error {
	if empty, err := d.openEmpty('}'); err != nil {
		return err
	} else if empty {
		return nil
	}
	for {
		k, err := d.keyBytes()
		if err != nil {
			return err
		}
		// k is only valid until the next string is read.
		var m *rawMember
		switch string(k) {
		case "op":
			m = &o.op
		case "path":
			m = &o.path
		case "from":
			m = &o.from
		case "value":
			base := d.depth
			d.deepest = base
			if o.value, err = d.value(); err != nil {
				return err
			}
			o.valueDepth = int32(d.deepest - base)
			o.hasValue = true
		default:
			if _, err := d.value(); err != nil {
				return err
			}
		}
		if m != nil {
			if err := d.rawMember(m); err != nil {
				return err
			}
		}
		if done, err := d.next('}', "after object key:value pair"); err != nil || done {
			return err
		}
	}
}

// rawMember reads the value of "op", "path" or "from".
func (d *decoder) rawMember(m *rawMember) error {
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		_, err := d.value()
		*m = rawMember{present: true}
		return err
	}
	b, err := d.str()
	if err != nil {
		return err
	}
	// Operation names and repeated short paths come from the cache.
	*m = rawMember{present: true, isString: true, s: d.names.get(b)}
	return nil
}

// parse checks r and fills o; i is the operation's index. The pointers'
// tokens are appended to *toks.
func (r *rawOp) parse(o *op, i int, toks *[]string) error {
	if r.notObject {
		return invalid(i, "", "", "an operation must be a JSON object")
	}
	if !r.op.present {
		return invalid(i, "op", "", "missing")
	}
	if !r.op.isString {
		return invalid(i, "op", "", "must be a string")
	}
	switch name := r.op.s; name {
	case "add":
		o.code = opAdd
	case "remove":
		o.code = opRemove
	case "replace":
		o.code = opReplace
	case "move":
		o.code = opMove
	case "copy":
		o.code = opCopy
	case "test":
		o.code = opTest
	default:
		return invalid(i, "op", "", "unknown operation "+strconv.Quote(name))
	}
	var err error
	if o.path, err = r.path.pointer(i, "path", toks); err != nil {
		return err
	}
	if o.code == opMove || o.code == opCopy {
		if o.from, err = r.from.pointer(i, "from", toks); err != nil {
			return err
		}
	}
	if o.code.hasValue() {
		if !r.hasValue {
			return invalid(i, "value", "", "missing")
		}
		o.value = r.value
		if o.code != opTest {
			o.size = Size(r.value)
			o.depth = r.valueDepth
		}
	}
	switch {
	case o.code == opRemove && len(o.path.toks) == 0:
		return invalid(i, "path", "", "cannot remove the whole document")
	case o.code == opMove && o.from.isProperPrefixOf(&o.path):
		return invalid(i, "from", o.from.text, "cannot move a value into its own child "+strconv.Quote(o.path.text))
	}
	return nil
}

// pointer parses the member as a JSON Pointer, appending its tokens to
// *toks; field names it in errors.
func (m *rawMember) pointer(i int, field string, toks *[]string) (pointer, error) {
	if !m.present {
		return pointer{}, invalid(i, field, "", "missing")
	}
	if !m.isString {
		return pointer{}, invalid(i, field, "", "must be a string")
	}
	p, rest, err := parsePointerInto(m.s, *toks)
	if err != nil {
		return pointer{}, invalid(i, field, m.s, err.Error())
	}
	*toks = rest
	return p, nil
}

func (p *Patch) applyJSONPatch(doc *any, c *Change) error {
	for i := range p.ops {
		if err := p.ops[i].apply(doc, c, i); err != nil {
			return err
		}
		if err := c.checkWork(i, p.ops[i].path.text); err != nil {
			return err
		}
	}
	return nil
}

func (o *op) apply(doc *any, c *Change, i int) error {
	switch o.code {
	case opAdd:
		ins := patchValue(o.value, o.size, int(o.depth))
		return c.add(doc, &o.path, &ins, i, "path")
	case opRemove:
		_, err := c.remove(doc, &o.path, false, i, "path")
		return err
	case opReplace:
		s, old, keep, err := walk(doc, &o.path, len(o.path.toks), i, "path")
		if err != nil {
			return err
		}
		ins := patchValue(o.value, o.size, int(o.depth))
		grow := o.size - c.measure(old)
		if err := c.allow(grow, len(o.path.toks), &ins, i, "path", o.path.text); err != nil {
			return err
		}
		c.setSlot(doc, s, old, ins.value(), grow)
		c.touch(o.path.prefix(keep))
		return nil
	case opMove:
		if o.from.text == o.path.text {
			// Moving a value onto itself changes nothing, but RFC 6902
			// still requires it to exist.
			_, _, keep, err := walk(doc, &o.from, len(o.from.toks), i, "from")
			if err != nil {
				return err
			}
			c.touch(o.from.prefix(keep))
			return nil
		}
		v, err := c.remove(doc, &o.from, true, i, "from")
		if err != nil {
			return err
		}
		ins := insertion{v: v, depth: -1, from: len(o.from.toks)}
		return c.add(doc, &o.path, &ins, i, "path")
	case opCopy:
		_, v, keep, err := walk(doc, &o.from, len(o.from.toks), i, "from")
		if err != nil {
			return err
		}
		c.touch(o.from.prefix(keep))
		// Cloned only once the budget allows the copy in: cloning first
		// is what let a patch of copies exhaust the memory.
		ins := insertion{v: v, size: c.measure(v), depth: -1, from: len(o.from.toks), clone: true}
		return c.add(doc, &o.path, &ins, i, "path")
	case opTest:
		_, v, keep, err := walk(doc, &o.path, len(o.path.toks), i, "path")
		if err != nil {
			return err
		}
		if !Equal(v, o.value) {
			return &Error{Op: i, Field: "path", Path: o.path.text, Err: ErrTestFailed, Reason: "the value differs"}
		}
		c.touch(o.path.prefix(keep))
		return nil
	}
	return nil
}

// walk finds the value named by the first n tokens of ptr and the slot that
// holds it. keep is how many tokens of ptr to record as the touched path:
// all of them, unless the walk passes through an array, where the path is
// cut at that array (an edit inside an array may shift its elements, so it
// conflicts with any other edit of the array).
func walk(doc *any, ptr *pointer, n, i int, field string) (s slot, v any, keep int, err error) {
	v = *doc
	keep = len(ptr.toks)
	for t := 0; t < n; t++ {
		tok := ptr.toks[t]
		switch cv := v.(type) {
		case map[string]any:
			child, ok := cv[tok]
			if !ok {
				return s, nil, 0, notFound(ptr, i, field, fmt.Sprintf("no member %q in %s", tok, at(ptr, t)))
			}
			s, v = slot{m: cv, key: tok}, child
		case []any:
			keep = min(keep, t)
			idx, ok := arrayIndex(tok, len(cv), false)
			if !ok {
				return s, nil, 0, notFound(ptr, i, field, fmt.Sprintf("invalid array index %q in %s", tok, at(ptr, t)))
			}
			if idx >= len(cv) {
				return s, nil, 0, notFound(ptr, i, field, fmt.Sprintf("index %d out of range in %s (length %d)", idx, at(ptr, t), len(cv)))
			}
			s, v = slot{p: &cv[idx]}, cv[idx]
		default:
			return s, nil, 0, notFound(ptr, i, field, fmt.Sprintf("%s is %s, not an object or array", at(ptr, t), kindName(v)))
		}
	}
	return s, v, keep, nil
}

// add inserts ins at ptr: into an object (adding or replacing the member),
// an array (at an index ≤ length, or "-" to append) or as the whole
// document, once the budget allows it.
func (c *Change) add(doc *any, ptr *pointer, ins *insertion, i int, field string) error {
	n := len(ptr.toks)
	if n == 0 {
		grow := ins.size - c.measure(*doc)
		if err := c.allow(grow, 0, ins, i, field, ptr.text); err != nil {
			return err
		}
		c.setSlot(doc, slot{}, *doc, ins.value(), grow)
		c.touch(ptr.text)
		return nil
	}
	s, parent, keep, err := walk(doc, ptr, n-1, i, field)
	if err != nil {
		return err
	}
	last := ptr.toks[n-1]
	switch pv := parent.(type) {
	case map[string]any:
		grow, old, had := c.memberGrowth(pv, last, ins.size)
		if err := c.allow(grow, n, ins, i, field, ptr.text); err != nil {
			return err
		}
		c.setMember(pv, last, ins.value(), old, had, grow)
	case []any:
		keep = min(keep, n-1)
		idx, ok := arrayIndex(last, len(pv), true)
		if !ok {
			return notFound(ptr, i, field, fmt.Sprintf("invalid array index %q in %s", last, at(ptr, n-1)))
		}
		if idx > len(pv) {
			return notFound(ptr, i, field, fmt.Sprintf("index %d out of range in %s (length %d)", idx, at(ptr, n-1), len(pv)))
		}
		grow := elemGrowth(pv, ins.size)
		if err := c.allow(grow, n, ins, i, field, ptr.text); err != nil {
			return err
		}
		c.insertElem(doc, s, pv, idx, ins.value(), grow)
	default:
		return notFound(ptr, i, field, fmt.Sprintf("%s is %s, not an object or array", at(ptr, n-1), kindName(parent)))
	}
	c.touch(ptr.prefix(keep))
	return nil
}

// remove removes the value at ptr (not the root) and returns it.
func (c *Change) remove(doc *any, ptr *pointer, moved bool, i int, field string) (any, error) {
	n := len(ptr.toks)
	if n == 0 {
		// Parsing rejects removing the root, and a move from "" can only
		// go to "", which apply treats as a no-op.
		return nil, invalid(i, field, ptr.text, "cannot remove the whole document")
	}
	s, parent, keep, err := walk(doc, ptr, n-1, i, field)
	if err != nil {
		return nil, err
	}
	last := ptr.toks[n-1]
	var v any
	switch pv := parent.(type) {
	case map[string]any:
		if _, ok := pv[last]; !ok {
			return nil, notFound(ptr, i, field, fmt.Sprintf("no member %q in %s", last, at(ptr, n-1)))
		}
		v = c.removeMember(pv, last, moved)
	case []any:
		keep = min(keep, n-1)
		idx, ok := arrayIndex(last, len(pv), false)
		if !ok {
			return nil, notFound(ptr, i, field, fmt.Sprintf("invalid array index %q in %s", last, at(ptr, n-1)))
		}
		if idx >= len(pv) {
			return nil, notFound(ptr, i, field, fmt.Sprintf("index %d out of range in %s (length %d)", idx, at(ptr, n-1), len(pv)))
		}
		v = c.removeElem(doc, s, pv, idx, moved)
	default:
		return nil, notFound(ptr, i, field, fmt.Sprintf("%s is %s, not an object or array", at(ptr, n-1), kindName(parent)))
	}
	c.touch(ptr.prefix(keep))
	return v, nil
}

// notFound builds the error for a path that does not resolve.
func notFound(ptr *pointer, i int, field, reason string) error {
	return &Error{Op: i, Field: field, Path: ptr.text, Err: ErrPathNotFound, Reason: reason}
}

// at names the value the first t tokens of ptr lead to, where a walk
// stopped, so the message says which part of the path is wrong.
func at(ptr *pointer, t int) string {
	if t == 0 {
		return "the document"
	}
	return strconv.Quote(ptr.prefix(t))
}

func kindName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default:
		return "a number"
	}
}
