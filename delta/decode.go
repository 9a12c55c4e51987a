package delta

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/deltasync/syncd/internal/jsonkit"
)

// This file is a JSON decoder written for this package's value model, and
// the base of the patch parsers (ParseJSONPatch, ParseMergePatch).
//
// Why it is hand-written, against the rule of preferring a well-kept
// library: speed. Every edit the engine commits is parsed here. Through
// encoding/json (a Decoder with UseNumber into an any) a value costs a
// reader, a scanner that visits every byte, reflection, an []any grown by
// append and so several allocations per value, and the patch parsers then
// walked the decoded maps again to build their own structures: a ~100-byte
// merge patch took 29 allocations and ~4.4 µs, a 3-operation JSON Patch 51
// and ~7 µs, most of a commit. Here they take 7 allocations and ~1.6 µs
// and ~1.8 µs, because the parsers read operations and merge members
// straight from the bytes into their prepared form, which no general
// decoder (encoding/json or a faster third-party one) can do for us; and
// delta keeps to the standard library.
//
// What it must match, byte for byte of input: it accepts exactly what
// json.Valid accepts (RFC 8259; one value, white space around it; nesting at
// most maxDepth deep) and builds what json.Decoder with UseNumber builds:
// map[string]any (a repeated member name keeps its last value), []any,
// string (escapes decoded; a \u escape of a lone surrogate, and every byte
// of invalid UTF-8, become U+FFFD), json.Number holding the literal's text,
// bool and nil. Empty arrays and objects are non-nil; arrays have no spare
// capacity. FuzzDecodeMatchesEncodingJSON and the tests in decode_test.go
// hold it to encoding/json.
//
// How it is cheap: one pass over the bytes; a string without escapes is one
// allocation (string(bytes)); arrays and objects gather their elements on a
// stack shared by all nesting levels and are allocated once at their final
// size; member names are looked up in a small cache, so the same few names
// repeated through a document or across patches are allocated once; and
// decoders are pooled, so their stacks and cache are reused.

// maxDepth bounds nesting, so that a hostile "[[[[…" cannot exhaust the
// stack. It is encoding/json's limit, so both accept the same inputs.
const maxDepth = 10000

// decoder is the state of one decode. It is not safe for concurrent use:
// Decode and the patch parsers each take one from the pool for the
// duration of a call.
type decoder struct {
	data  []byte
	pos   int // next byte to read
	depth int // open arrays and objects
	// deepest is the highest depth reached since a caller last set it
	// (to depth, before reading a value), so that the value's nesting
	// is known without walking it again.
	deepest int
	// rawLeaves (decodeRaw) keeps every value that is not an object as
	// its text, a rawJSON sharing data.
	rawLeaves bool

	vals []any    // elements and member values of the open containers
	keys []string // member names of the open objects
	buf  []byte   // an unescaped string being built
	ops  []rawOp  // operations of a JSON Patch being parsed

	members []mergeMember // members of the open objects of a merge patch
	done    []mergeMember // members of the objects of a merge patch read so far
	paths   []byte        // JSON Pointers of a merge patch's members
	order   []int32       // scratch for sorting an object's members
	names   nameCache
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

func newDecoder(data []byte) *decoder {
	d := decoders.Get().(*decoder)
	d.data, d.pos, d.depth = data, 0, 0
	return d
}

// release returns d to the pool. After an error the stacks may still hold
// values: drop them, so a pooled decoder does not pin a document, and do
// not keep stacks grown by one huge input.
func (d *decoder) release() {
	d.data, d.rawLeaves = nil, false
	clear(d.vals)
	clear(d.keys)
	clear(d.ops)
	clear(d.members)
	clear(d.done)
	d.vals = keepSmall(d.vals, 1<<12)
	d.keys = keepSmall(d.keys, 1<<12)
	d.ops = keepSmall(d.ops, 1<<10)
	d.buf = keepSmall(d.buf, 1<<16)
	d.members = keepSmall(d.members, 1<<10)
	d.done = keepSmall(d.done, 1<<10)
	d.paths = keepSmall(d.paths, 1<<16)
	decoders.Put(d)
}

// keepSmall returns s emptied for the next input, or nil when it grew past
// limit elements.
func keepSmall[T any](s []T, limit int) []T {
	if cap(s) > limit {
		return nil
	}
	return s[:0]
}

// Decode parses data, which must hold exactly one JSON value (surrounding
// white space allowed), into the value model of this package: map[string]any,
// []any, string, json.Number, bool and nil.
//
// Numbers stay json.Number, never float64, so that their text survives a
// round trip exactly (float64 would turn 12345678901234567890 into
// 12345678901234567000 and 1.0 into 1, changing documents nobody edited).
// Invalid UTF-8 in strings is replaced by U+FFFD, as encoding/json does, and
// Decode accepts exactly the inputs json.Valid accepts.
func Decode(data []byte) (any, error) {
	d := newDecoder(data)
	v, err := d.document()
	d.release()
	return v, err
}

// document reads the whole input as one value.
func (d *decoder) document() (any, error) {
	d.skipSpace()
	if d.pos == len(d.data) {
		return nil, errors.New("delta: decode: no JSON value")
	}
	v, err := d.value()
	if err != nil {
		return nil, fmt.Errorf("delta: decode: %w", err)
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return v, nil
}

// end checks that only white space follows the value just read. A second
// value, or any other byte, is an error: "{} {}" is not one document, and
// silently taking the first would hide a client bug.
func (d *decoder) end() error {
	d.skipSpace()
	if d.pos != len(d.data) {
		return errors.New("delta: decode: data after the JSON value")
	}
	return nil
}

// syntaxError says what is wrong with the input and where.
type syntaxError struct {
	msg string
	off int // byte offset in the input
}

func (e *syntaxError) Error() string {
	return e.msg + " at offset " + strconv.Itoa(e.off)
}

// errAt reports the byte at off, or the end of the input, as unexpected.
func (d *decoder) errAt(off int, context string) error {
	if off >= len(d.data) {
		return &syntaxError{msg: "unexpected end of JSON input", off: off}
	}
	return &syntaxError{msg: "invalid character " + quoteChar(d.data[off]) + " " + context, off: off}
}

// quoteChar shows a byte in an error message.
func quoteChar(c byte) string {
	if 0x20 <= c && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf(`'\x%02x'`, c)
}

func (d *decoder) skipSpace() {
	i := d.pos
	// Compact JSON, as stored, has none: one comparison says so.
	if i < len(d.data) && d.data[i] > ' ' {
		return
	}
	for i < len(d.data) && isSpace(d.data[i]) {
		i++
	}
	d.pos = i
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// value reads one value, after optional white space.
func (d *decoder) value() (any, error) {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return nil, d.errAt(d.pos, "")
	}
	if d.rawLeaves && d.data[d.pos] != '{' {
		return d.rawLeaf()
	}
	switch c := d.data[d.pos]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		// ScanString called here and in keyBytes rather than through
		// str: the extra call would cost a fifth of a short string's scan.
		end, flags, f := jsonkit.ScanString(d.data, d.pos, true)
		if f.Kind != jsonkit.NoFault {
			return nil, d.stringError(f)
		}
		b := d.data[d.pos+1 : end-1]
		d.pos = end
		if flags != 0 {
			b = d.unquote(b)
		}
		return string(b), nil
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || isDigit(c) {
			return d.number()
		}
		return nil, d.errAt(d.pos, "looking for beginning of value")
	}
}

func (d *decoder) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if d.pos+i >= len(d.data) || d.data[d.pos+i] != lit[i] {
			return d.errAt(d.pos+i, "in literal "+lit+" (expecting "+quoteChar(lit[i])+")")
		}
	}
	d.pos += len(lit)
	return nil
}

// number reads a number (RFC 8259 §6:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?) and keeps its text.
// decodeRaw decodes data as Decode does, except that values other than
// objects are kept as their text (rawJSON, sharing data, which must not
// change while the result is used): composing merge patches looks only at
// their objects, and copying the text of the rest saves decoding and
// re-encoding it. Such a value may be encoded (AppendEncode) and measured
// (Size), never put into a document.
func decodeRaw(data []byte) (any, error) {
	d := newDecoder(data)
	d.rawLeaves = true
	v, err := d.document()
	d.release()
	return v, err
}

// rawLeaf reads a value that is not an object, checking it as value
// would, and returns its text.
func (d *decoder) rawLeaf() (any, error) {
	start := d.pos
	if err := d.skipLeaf(); err != nil {
		return nil, err
	}
	return rawJSON(d.data[start:d.pos]), nil
}

// skipObject checks the object at d.pos and moves past it, building
// nothing (but the arrays inside it).
func (d *decoder) skipObject() error {
	if empty, err := d.openEmpty('}'); err != nil || empty {
		return err
	}
	for {
		_, isObject, err := d.member()
		if err != nil {
			return err
		}
		if err := d.skipMember(isObject); err != nil {
			return err
		}
		done, err := d.next('}', "after object key:value pair")
		if err != nil || done {
			return err
		}
	}
}

// member reads an object member's name and the colon after it, as
// keyBytes does, and says whether its value is an object, d.pos being then
// at the value.
func (d *decoder) member() (name []byte, isObject bool, err error) {
	if name, err = d.keyBytes(); err != nil {
		return nil, false, err
	}
	d.skipSpace()
	if d.pos >= len(d.data) {
		return nil, false, d.errAt(d.pos, "")
	}
	return name, d.data[d.pos] == '{', nil
}

// skipMember moves past the value at d.pos, checking it.
func (d *decoder) skipMember(isObject bool) error {
	if isObject {
		return d.skipObject()
	}
	return d.skipLeaf()
}

// skipLeaf checks the value at d.pos, which is not an object, and moves
// past it.
func (d *decoder) skipLeaf() error {
	var err error
	switch c := d.data[d.pos]; {
	case c == '"':
		_, err = d.str()
	case c == '[':
		_, err = d.array() // its elements are read raw, and dropped
	case c == 't':
		err = d.literal("true")
	case c == 'f':
		err = d.literal("false")
	case c == 'n':
		err = d.literal("null")
	case c == '-' || isDigit(c):
		d.pos, err = d.numberEnd()
	default:
		err = d.errAt(d.pos, "looking for beginning of value")
	}
	return err
}

// rawJSON is the text of a JSON value: one that is not an object
// (decodeRaw), or an object a composition kept as text (mergeTextInto).
type rawJSON []byte

// asObject returns v as an object, if it is one: a map, or the text of an
// object (rawJSON), decoded into a new map whose values are raw.
func asObject(v any) (map[string]any, bool) {
	switch v := v.(type) {
	case map[string]any:
		return v, true
	case rawJSON:
		if len(v) == 0 || v[0] != '{' {
			return nil, false
		}
		m, err := decodeRaw(v)
		if err != nil {
			return nil, false // never: the text was checked when kept
		}
		return m.(map[string]any), true
	default:
		return nil, false
	}
}

func (d *decoder) number() (any, error) {
	start := d.pos
	end, err := d.numberEnd()
	if err != nil {
		return nil, err
	}
	d.pos = end
	return json.Number(d.data[start:end]), nil
}

// numberEnd checks the number at d.pos and returns where it ends.
func (d *decoder) numberEnd() (int, error) {
	end, _, f := jsonkit.ScanNumber(d.data, d.pos)
	switch f.Kind {
	case jsonkit.NoFault:
		return end, nil
	case jsonkit.FaultFraction:
		return 0, d.errAt(f.Off, "after decimal point in numeric literal")
	case jsonkit.FaultExponent:
		return 0, d.errAt(f.Off, "in exponent of numeric literal")
	}
	return 0, d.errAt(f.Off, "in numeric literal")
}

// str reads a string, d.pos being at its opening quote. The result is the
// string's bytes in the input when it has no escapes and is valid UTF-8,
// or else d.buf, where its value is built (escapes decoded, and invalid
// UTF-8 replaced exactly as encoding/json does); either way it is valid
// only until the next call.
func (d *decoder) str() ([]byte, error) {
	end, flags, f := jsonkit.ScanString(d.data, d.pos, true)
	if f.Kind != jsonkit.NoFault {
		return nil, d.stringError(f)
	}
	body := d.data[d.pos+1 : end-1]
	d.pos = end
	if flags == 0 {
		return body, nil
	}
	return d.unquote(body), nil
}

// unquote builds in d.buf the value of a string body that ScanString
// flagged as needing it.
func (d *decoder) unquote(body []byte) []byte {
	d.buf = jsonkit.AppendUnquoted(d.buf[:0], body)
	return d.buf
}

// stringError words a fault of jsonkit.ScanString as encoding/json would.
// A fault at the end of the input is "unexpected end of JSON input"
// (errAt), whatever its kind.
func (d *decoder) stringError(f jsonkit.Fault) error {
	switch f.Kind {
	case jsonkit.FaultBadEscape:
		return d.errAt(f.Off, "in string escape code")
	case jsonkit.FaultBadHex:
		return d.errAt(f.Off, "in \\u hexadecimal character escape")
	case jsonkit.FaultControl:
		return d.errAt(f.Off, "in string literal")
	}
	return d.errAt(f.Off, "")
}

// open enters an array or object, d.pos being at its bracket.
func (d *decoder) open() error {
	d.depth++
	if d.depth > maxDepth {
		return &syntaxError{msg: "exceeded max depth", off: d.pos}
	}
	d.deepest = max(d.deepest, d.depth)
	d.pos++
	d.skipSpace()
	return nil
}

// openEmpty opens the array or object at d.pos, like open, and reports
// whether it is empty, in which case it also reads the closing bracket
// and the container is done.
func (d *decoder) openEmpty(closing byte) (empty bool, err error) {
	if err := d.open(); err != nil {
		return false, err
	}
	if d.pos < len(d.data) && d.data[d.pos] == closing {
		d.pos++
		d.depth--
		return true, nil
	}
	return false, nil
}

// next reads what follows an element or member: a comma, or the closing
// bracket (done is then true).
func (d *decoder) next(closing byte, context string) (done bool, err error) {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return false, d.errAt(d.pos, "")
	}
	switch d.data[d.pos] {
	case ',':
		d.pos++
		return false, nil
	case closing:
		d.pos++
		d.depth--
		return true, nil
	default:
		return false, d.errAt(d.pos, context)
	}
}

func (d *decoder) array() (any, error) {
	if empty, err := d.openEmpty(']'); err != nil {
		return nil, err
	} else if empty {
		return []any{}, nil
	}
	base := len(d.vals)
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.vals = append(d.vals, v)
		done, err := d.next(']', "after array element")
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
	}
	a := make([]any, len(d.vals)-base)
	copy(a, d.vals[base:])
	clear(d.vals[base:])
	d.vals = d.vals[:base]
	return a, nil
}

func (d *decoder) object() (any, error) {
	if empty, err := d.openEmpty('}'); err != nil {
		return nil, err
	} else if empty {
		return map[string]any{}, nil
	}
	base := len(d.vals)
	for {
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.keys = append(d.keys, k)
		d.vals = append(d.vals, v)
		done, err := d.next('}', "after object key:value pair")
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
	}
	return d.popObject(base), nil
}

// popObject builds the object whose member values are d.vals[base:], and
// whose names are as many on top of d.keys, and pops them.
func (d *decoder) popObject(base int) map[string]any {
	// d.keys and d.vals grow and shrink together within objects; arrays
	// only touch d.vals, and leave it as they found it.
	n := len(d.vals) - base
	kbase := len(d.keys) - n
	m := make(map[string]any, n)
	for i := range n {
		m[d.keys[kbase+i]] = d.vals[base+i] // in order: a repeated name keeps its last value
	}
	clear(d.keys[kbase:])
	clear(d.vals[base:])
	d.keys, d.vals = d.keys[:kbase], d.vals[:base]
	return m
}

// key reads a member name and the colon after it.
func (d *decoder) key() (string, error) {
	k, err := d.keyBytes()
	if err != nil {
		return "", err
	}
	return d.names.get(k), nil
}

// keyBytes reads a member name and the colon after it, returning the name
// as str does.
func (d *decoder) keyBytes() ([]byte, error) {
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return nil, d.errAt(d.pos, "looking for beginning of object key string")
	}
	end, flags, f := jsonkit.ScanString(d.data, d.pos, true)
	if f.Kind != jsonkit.NoFault {
		return nil, d.stringError(f)
	}
	k := d.data[d.pos+1 : end-1]
	d.pos = end
	if flags != 0 {
		k = d.unquote(k)
	}
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != ':' {
		return nil, d.errAt(d.pos, "after object key")
	}
	d.pos++
	return k, nil
}

// nameCache holds recently decoded short member names, so that a name that
// comes again (in every record of a document, in every patch of the same
// shape) reuses one string instead of allocating a new one. Strings are
// immutable, so sharing them between documents is safe. It is a fixed
// table indexed by a hash of the name; a collision just replaces the entry.
type nameCache [256]string

// maxCachedName bounds the names the cache holds, and so the memory a
// pooled decoder keeps.
const maxCachedName = 24

func (c *nameCache) get(b []byte) string {
	if len(b) == 0 || len(b) > maxCachedName {
		return string(b)
	}
	h := uint32(2166136261) // FNV-1a
	for _, x := range b {
		h = (h ^ uint32(x)) * 16777619
	}
	e := &c[h%uint32(len(c))]
	if *e == string(b) { // compares without allocating
		return *e
	}
	s := string(b)
	*e = s
	return s
}
