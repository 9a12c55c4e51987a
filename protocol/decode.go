package protocol

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"

	"github.com/deltasync/syncd/internal/jsonkit"
	"github.com/deltasync/syncd/revision"
)

// objDecoder walks one JSON object field by field for the hand-written
// decoders of the message types. It keeps the first error (later calls do
// nothing), so a decoder is a loop over next() with a switch on the key and
// one error check at the end:
//
//	for d.next() {
//		switch string(d.key) {
//		case "doc":
//			p.Doc = d.str(1)
//		default:
//			d.unknown()
//		}
//	}
//	d.require(1, "doc")
//	return d.finish()
//
// Each field has a bit; seeing a field twice is an error (encoding/json
// would silently keep the last one). Keys match exactly, with case: "DOC" is
// not "doc".
//
// Every payload type spells this loop out, and since the messages share
// fields (doc, epoch, rev…) the decoders look alike line for line: each
// switch is its type's schema. A shared loop calling back per field would
// keep the same switches and add an indirect call per field to the
// decoding of every message; a table of fields would lose the typed
// assignments.
//
// The decoder holds its scanner by value: escape analysis does not track
// fields separately, so a pointer to a scanner on the caller's stack would
// move it to the heap, an allocation per message.
type objDecoder struct {
	s       jsonkit.Scanner
	path    string // of the object, e.g. "payload" or "payload.operations"
	index   int    // when >= 0, the object is element index of the array at path
	lenient bool   // skip unknown fields instead of failing
	key     []byte
	seen    uint32
	state   uint8 // 0 before '{', 1 inside, 2 after '}'
	err     error
}

func newObjDecoder(data []byte, path string, lenient bool) objDecoder {
	// Outer 1: the object itself is a level of nesting around its values.
	return objDecoder{s: jsonkit.Scanner{Data: data, Outer: 1}, path: path, index: -1, lenient: lenient}
}

// child returns a decoder for the object at d's current value, whose path
// is path (and, if index >= 0, element index of the array at path: the
// element's path is built only if there is an error to report). When the
// child is done, d.adopt(&child) moves d past it.
func (d *objDecoder) child(path string, index int, lenient bool) objDecoder {
	c := objDecoder{s: d.s, path: path, index: index, lenient: lenient}
	c.s.Outer = d.s.Outer + 1
	return c
}

// adopt continues after a child decoder, taking its position and error.
func (d *objDecoder) adopt(c *objDecoder) {
	d.s.Pos = c.s.Pos
	if d.err == nil {
		d.err = c.err
	}
}

// objPath is the path of the object itself.
func (d *objDecoder) objPath() string {
	if d.index < 0 {
		return d.path
	}
	return d.path + "[" + strconv.Itoa(d.index) + "]"
}

// next advances to the next key, returning false at the end of the object
// or after an error.
func (d *objDecoder) next() bool {
	if d.err != nil || d.state == 2 {
		return false
	}
	s := &d.s
	if d.state == 0 {
		if k := s.Peek(); k != jsonkit.KindObject {
			d.typeError(d.objPath(), "object", k)
			return false
		}
		s.Pos++
		s.SkipWS()
		if s.Pos < len(s.Data) && s.Data[s.Pos] == '}' {
			s.Pos++
			d.state = 2
			return false
		}
		d.state = 1
	} else {
		s.SkipWS()
		if s.Pos >= len(s.Data) {
			d.err = s.ErrAt("unexpected end inside an object")
			return false
		}
		switch s.Data[s.Pos] {
		case '}':
			s.Pos++
			d.state = 2
			return false
		case ',':
			s.Pos++
			s.SkipWS()
		default:
			d.err = s.ErrAt("want ',' or '}' after an object member")
			return false
		}
	}
	if s.Pos >= len(s.Data) || s.Data[s.Pos] != '"' {
		d.err = s.ErrAt("want a string key")
		return false
	}
	key, err := s.ReadKey()
	if err != nil {
		d.err = err
		return false
	}
	if err := s.Expect(':'); err != nil {
		d.err = err
		return false
	}
	d.key = key
	return true
}

// field is the path of the current field, for errors.
func (d *objDecoder) field() string { return d.join(string(d.key)) }

// join is the path of the member name of this object.
func (d *objDecoder) join(name string) string {
	if p := d.objPath(); p != "" {
		return p + "." + name
	}
	return name
}

func (d *objDecoder) fail(path, msg string) {
	if d.err == nil {
		d.err = fieldError(path, msg)
	}
}

// typeError records "path: want X, got Y", or the syntax error when the
// value is not JSON at all.
func (d *objDecoder) typeError(path, want string, got jsonkit.Kind) {
	if d.err != nil {
		return
	}
	if got == jsonkit.KindInvalid {
		_, d.err = d.s.SkipValue()
		return
	}
	d.err = fieldError(path, "want "+want+", got "+got.String())
}

// mark records that the field of bit was seen, failing on a duplicate.
func (d *objDecoder) mark(bit uint32) bool {
	if d.err != nil {
		return false
	}
	if d.seen&bit != 0 {
		d.fail(d.field(), "duplicate field")
		return false
	}
	d.seen |= bit
	return true
}

// isNull consumes a null value and reports whether there was one.
func (d *objDecoder) isNull() bool {
	if d.s.Peek() != jsonkit.KindNull {
		return false
	}
	if err := d.s.SkipNull(); err != nil {
		d.err = err
	}
	return true
}

// nullRequired fails for a required field sent as null.
func (d *objDecoder) nullRequired() { d.fail(d.field(), "required, got null") }

// unknown handles a field the type does not have.
func (d *objDecoder) unknown() {
	if d.err != nil {
		return
	}
	if !d.lenient {
		d.fail(d.field(), "unknown field")
		return
	}
	if _, err := d.s.SkipValue(); err != nil {
		d.err = err
	}
}

// str reads a required string.
func (d *objDecoder) str(bit uint32) string {
	v, _ := d.strOpt(bit, true)
	return v
}

// strOpt reads a string; null is "absent" for an optional field and an
// error for a required one.
func (d *objDecoder) strOpt(bit uint32, required bool) (string, bool) {
	if !d.mark(bit) {
		return "", false
	}
	if d.isNull() {
		if required {
			d.nullRequired()
		}
		return "", false
	}
	if k := d.s.Peek(); k != jsonkit.KindString {
		d.typeError(d.field(), "string", k)
		return "", false
	}
	v, err := d.s.ReadString()
	if err != nil {
		d.err = err
		return "", false
	}
	return v, true
}

// stringOrSkip reads a string, or skips a value of any other kind ("").
func (d *objDecoder) stringOrSkip() string {
	if d.s.Peek() != jsonkit.KindString {
		if _, err := d.s.SkipValue(); err != nil {
			d.err = err
		}
		return ""
	}
	v, err := d.s.ReadString()
	if err != nil {
		d.err = err
	}
	return v
}

// uint reads a non-negative integer no larger than max.
func (d *objDecoder) uint(bit uint32, required bool, max uint64) (uint64, bool) {
	if !d.mark(bit) {
		return 0, false
	}
	if d.isNull() {
		if required {
			d.nullRequired()
		}
		return 0, false
	}
	if k := d.s.Peek(); k != jsonkit.KindNumber {
		d.typeError(d.field(), "number", k)
		return 0, false
	}
	v, ok, err := d.s.ReadUint(max)
	if err != nil {
		d.err = err
		return 0, false
	}
	if !ok {
		d.fail(d.field(), "want a non-negative integer")
		return 0, false
	}
	return v, true
}

// rev reads a required revision.
func (d *objDecoder) rev(bit uint32) revision.Rev {
	v, _ := d.uint(bit, true, math.MaxUint64)
	return revision.Rev(v)
}

// revOpt reads an optional revision: nil when absent or null.
func (d *objDecoder) revOpt(bit uint32) *revision.Rev {
	v, ok := d.uint(bit, false, math.MaxUint64)
	if !ok {
		return nil
	}
	r := revision.Rev(v)
	return &r
}

// int64 reads a non-negative int64.
func (d *objDecoder) int64(bit uint32, required bool) (int64, bool) {
	v, ok := d.uint(bit, required, math.MaxInt64)
	return int64(v), ok
}

// boolOpt reads an optional boolean.
func (d *objDecoder) boolOpt(bit uint32) *bool {
	if !d.mark(bit) || d.isNull() {
		return nil
	}
	if k := d.s.Peek(); k != jsonkit.KindBool {
		d.typeError(d.field(), "boolean", k)
		return nil
	}
	v, err := d.s.ReadBool()
	if err != nil {
		d.err = err
		return nil
	}
	return &v
}

// Allowed kinds for free-JSON fields.
const (
	anyKind    = 0
	objectKind = 1 << jsonkit.KindObject
	arrayKind  = 1 << jsonkit.KindArray
)

// raw reads a free-JSON value as a sub-slice of the input. kinds restricts
// the value's type (0: any value but null). null is "absent" for an
// optional field and an error for a required one.
func (d *objDecoder) raw(bit uint32, required bool, kinds uint8) json.RawMessage {
	if !d.mark(bit) {
		return nil
	}
	if d.isNull() {
		if required {
			d.nullRequired()
		}
		return nil
	}
	start := d.s.Pos
	k, err := d.s.SkipValue()
	if err != nil {
		d.err = err
		return nil
	}
	if kinds != anyKind && kinds&(1<<k) == 0 {
		want := "object"
		switch kinds {
		case arrayKind:
			want = "array"
		case arrayKind | objectKind:
			want = "array or object"
		}
		d.fail(d.field(), "want "+want+", got "+k.String())
		return nil
	}
	return json.RawMessage(d.s.Data[start:d.s.Pos:d.s.Pos])
}

// array calls elem for each element of an array field, with the field's
// path and the element's index; elem must consume exactly one value from
// d (setting d.err on failure). It returns false if the field was absent or
// null, or on error.
func (d *objDecoder) array(bit uint32, required bool, elem func(d *objDecoder, path string, i int)) bool {
	if !d.mark(bit) {
		return false
	}
	if d.isNull() {
		if required {
			d.nullRequired()
		}
		return false
	}
	s := &d.s
	if k := s.Peek(); k != jsonkit.KindArray {
		d.typeError(d.field(), "array", k)
		return false
	}
	field := d.field()
	s.Pos++
	s.SkipWS()
	if s.Pos < len(s.Data) && s.Data[s.Pos] == ']' {
		s.Pos++
		return true
	}
	for i := 0; ; i++ {
		if elem(d, field, i); d.err != nil {
			return false
		}
		s.SkipWS()
		if s.Pos >= len(s.Data) {
			d.err = s.ErrAt("unexpected end inside an array")
			return false
		}
		switch s.Data[s.Pos] {
		case ',':
			s.Pos++
		case ']':
			s.Pos++
			return true
		default:
			d.err = s.ErrAt("want ',' or ']' after an array element")
			return false
		}
	}
}

// require fails if the field of bit was not seen.
func (d *objDecoder) require(bit uint32, name string) {
	if d.err == nil && d.seen&bit == 0 {
		d.fail(d.join(name), "required")
	}
}

// finishTop is finish for a whole input: nothing may follow the object.
func (d *objDecoder) finishTop() error {
	if d.err == nil && !d.s.AtEnd() {
		d.err = d.s.ErrAt("unexpected data after the value")
	}
	return wireError(d.err)
}

// wireError turns a scanner syntax error into an INVALID_ARGUMENT [*Error].
func wireError(err error) error {
	if err == nil {
		return nil
	}
	var se *jsonkit.SyntaxError
	if errors.As(err, &se) {
		return &Error{Code: CodeInvalidArgument, Message: se.Error()}
	}
	return err
}
