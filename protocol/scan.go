package protocol

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a small JSON scanner that validates as it goes. The message
// decoders use it instead of encoding/json so that one pass over the bytes
// both checks the syntax and fills a typed struct, with no reflection, and so
// that every error can name the field it is about. It is deliberately strict:
// invalid UTF-8 is an error (a WebSocket text frame must be UTF-8 anyway, and
// accepting it would make "decode, encode, decode" change the value), and
// nesting deeper than maxDepth is refused so that hostile input cannot make a
// decoder work hard.

// maxDepth bounds the nesting of arrays and objects in any message.
const maxDepth = 512

// kind is the type of a JSON value, as the scanner sees its first byte.
type kind uint8

const (
	kindInvalid kind = iota
	kindNull
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k kind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "boolean"
	case kindNumber:
		return "number"
	case kindString:
		return "string"
	case kindArray:
		return "array"
	case kindObject:
		return "object"
	}
	return "invalid JSON"
}

// syntaxError is a JSON syntax error at a byte offset of the input.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return "invalid JSON: " + e.msg + " at offset " + strconv.Itoa(e.off)
}

// scanner reads JSON from data starting at pos.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) errAt(msg string) error { return &syntaxError{off: s.pos, msg: msg} }

// errAtIndex is errAt for the scanners that keep their index in a local
// variable: it moves pos to the error's offset first, as errAt would see it.
func (s *scanner) errAtIndex(i int, msg string) error {
	s.pos = i
	return s.errAt(msg)
}

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		// Most calls find no whitespace: one comparison rules it out for
		// every byte above ' '.
		if c := s.data[s.pos]; c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return
		}
		s.pos++
	}
}

// peek skips whitespace and reports the kind of the next value without
// consuming it. kindInvalid means the input ends or the byte starts no value.
func (s *scanner) peek() kind {
	s.skipWS()
	if s.pos >= len(s.data) {
		return kindInvalid
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return kindObject
	case c == '[':
		return kindArray
	case c == '"':
		return kindString
	case c == 't' || c == 'f':
		return kindBool
	case c == 'n':
		return kindNull
	case c == '-' || (c >= '0' && c <= '9'):
		return kindNumber
	}
	return kindInvalid
}

// atEnd reports whether only whitespace is left.
func (s *scanner) atEnd() bool {
	s.skipWS()
	return s.pos >= len(s.data)
}

// expect consumes the byte c (after whitespace).
func (s *scanner) expect(c byte) error {
	s.skipWS()
	if s.pos >= len(s.data) {
		return s.errAt("unexpected end, want '" + string(c) + "'")
	}
	if s.data[s.pos] != c {
		return s.errAt("unexpected " + strconv.QuoteRune(rune(s.data[s.pos])) + ", want '" + string(c) + "'")
	}
	s.pos++
	return nil
}

// skipValue consumes one value, validating it, and returns its kind.
func (s *scanner) skipValue() (kind, error) {
	k := s.peek()
	var err error
	switch k {
	case kindString:
		_, _, err = s.scanString()
	case kindNumber:
		err = s.skipNumber()
	case kindBool:
		_, err = s.readBool()
	case kindNull:
		err = s.skipNull()
	case kindObject, kindArray:
		err = s.skipContainer()
	default:
		if s.pos >= len(s.data) {
			return kindInvalid, s.errAt("unexpected end, want a value")
		}
		return kindInvalid, s.errAt("unexpected " + strconv.QuoteRune(rune(s.data[s.pos])) + ", want a value")
	}
	return k, err
}

// skipContainer consumes an object or array without recursion: a bit per
// level records whether that level is an object.
func (s *scanner) skipContainer() error {
	var stack [maxDepth / 64]uint64
	depth := 0
	open := func() error {
		if depth >= maxDepth {
			return s.errAt("nesting too deep")
		}
		word, bit := depth/64, uint(depth%64)
		if s.data[s.pos] == '{' {
			stack[word] |= 1 << bit
		} else {
			stack[word] &^= 1 << bit
		}
		depth++
		s.pos++
		return nil
	}
	inObject := func() bool { d := depth - 1; return stack[d/64]&(1<<uint(d%64)) != 0 }
	key := func() error {
		s.skipWS()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.errAt("want a string key")
		}
		if _, _, err := s.scanString(); err != nil {
			return err
		}
		return s.expect(':')
	}

	if err := open(); err != nil {
		return err
	}
	// Just after an opening bracket: the container may be empty.
	justOpened := true
	for {
		if justOpened {
			justOpened = false
			s.skipWS()
			if s.pos < len(s.data) {
				c := s.data[s.pos]
				if (c == '}' && inObject()) || (c == ']' && !inObject()) {
					s.pos++
					depth--
					goto afterValue
				}
			}
			if inObject() {
				if err := key(); err != nil {
					return err
				}
			}
		}
		// A value. Strings and numbers, the bulk of a large value, are
		// scanned here directly rather than through skipValue, which would
		// peek at the value a second time.
		switch s.peek() {
		case kindObject, kindArray:
			if err := open(); err != nil {
				return err
			}
			justOpened = true
			continue
		case kindString:
			if _, _, err := s.scanString(); err != nil {
				return err
			}
		case kindNumber:
			if _, _, err := s.scanNumber(); err != nil {
				return err
			}
		default:
			if _, err := s.skipValue(); err != nil {
				return err
			}
		}
	afterValue:
		if depth == 0 {
			return nil
		}
		s.skipWS()
		if s.pos >= len(s.data) {
			return s.errAt("unexpected end inside a container")
		}
		switch c := s.data[s.pos]; {
		case c == ',':
			s.pos++
			if inObject() {
				if err := key(); err != nil {
					return err
				}
			}
		case c == '}' && inObject(), c == ']' && !inObject():
			s.pos++
			depth--
			goto afterValue
		default:
			return s.errAt("unexpected " + strconv.QuoteRune(rune(c)) + " inside a container")
		}
	}
}

// scanString consumes a string at pos and returns the bytes between its
// quotes and whether they contain escapes.
//
// It works on a local index and stores s.pos only when it returns: a store
// through s per byte (s may alias d, as far as the compiler knows) costs
// more than the test of the byte.
func (s *scanner) scanString() (body []byte, escaped bool, err error) {
	d := s.data
	start := s.pos + 1 // after the opening quote
	i := start
	for {
		// Fast path: skip the bytes that stand for themselves, eight at a
		// time, to the first one that needs a look.
		i = skipPlain(d, i)
		if i >= len(d) {
			break
		}
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return d[start:i], escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(d) {
				return nil, false, s.errAtIndex(i, "unexpected end in a string escape")
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) {
					return nil, false, s.errAtIndex(i, "unexpected end in a \\u escape")
				}
				for _, h := range d[i+2 : i+6] {
					if unhex(h) < 0 {
						return nil, false, s.errAtIndex(i, "invalid \\u escape")
					}
				}
				i += 6
			default:
				return nil, false, s.errAtIndex(i, "invalid escape in a string")
			}
		case c < 0x20:
			return nil, false, s.errAtIndex(i, "control character in a string")
		case c < utf8.RuneSelf:
			// Not reached (skipPlain stops only at '"', '\\', control
			// characters and non-ASCII), kept so that correctness does not
			// depend on skipPlain being exact.
			i++
		default:
			// Validate a run of multibyte characters here rather than going
			// back to skipPlain after each one, which would cost a wasted
			// word test per character in non-Latin text.
			for i < len(d) && d[i] >= utf8.RuneSelf {
				r, size := utf8.DecodeRune(d[i:])
				if r == utf8.RuneError && size == 1 {
					return nil, false, s.errAtIndex(i, "invalid UTF-8 in a string")
				}
				i += size
			}
		}
	}
	return nil, false, s.errAtIndex(len(d), "unexpected end in a string")
}

// skipPlain returns the index of the first byte at or after i in d that does
// not stand for itself in a JSON string ('"', '\\', a control character, or
// a byte of a multibyte UTF-8 sequence), or len(d) if there is none.
//
// It is hand-written SWAR ("SIMD within a register"): eight bytes are loaded
// as one little-endian uint64 and tested with a few arithmetic operations,
// so a run of plain ASCII costs one test per word instead of one table
// look-up per byte: about four times faster on strings of 80 bytes or more,
// such as the ones that make up a large SYNC.SNAPSHOT (BenchmarkScanString).
// There is nothing to call instead: the standard library has no SIMD, and
// encoding/json validates a byte at a time (v1 steps a state machine per
// byte; v2's jsontext looks each byte up in a table, like the loop this
// replaces). The mask is exact: see plainMask, and the differential tests
// and FuzzScanner in scan_test.go, which compare this scanner with the
// byte-by-byte one it replaced.
func skipPlain(d []byte, i int) int {
	for i+8 <= len(d) {
		if m := plainMask(binary.LittleEndian.Uint64(d[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(d) && plainASCII[d[i]] {
		i++
	}
	return i
}

// Constants of the SWAR tests: a byte of ones, and each byte's high bit.
const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// plainMask returns, for the eight bytes of w (the first in the low byte),
// a mask that is zero when every byte stands for itself in a JSON string
// (0x20 to 0x7f, but not '"' or '\\'). Otherwise its lowest set bit is the
// high bit of the first byte that does not.
//
// Per byte b, with no borrow coming in from the byte below, the high bit of
//   - b is set iff b >= 0x80;
//   - b-0x20 is set iff b < 0x20, when b < 0x80;
//   - (b^'"')-1 is set iff b == '"', when b < 0x80 (b^'"' is then at most
//     0x7f, and zero only for '"');
//   - (b^'\\')-1 is set iff b == '\\', when b < 0x80.
//
// The subtractions borrow out of a byte only when b < 0x20, b == '"' or
// b == '\\'. So a byte with no borrow coming in gets its high bit set in
// the mask exactly when it does not stand for itself, and a borrow only
// comes out of such a byte: it can set bits above the first byte that
// counts, never below it, and never when no byte counts. The mask has no
// false negatives and its lowest set bit is exact.
func plainMask(w uint64) uint64 {
	q := w ^ (swarOnes * '"')
	b := w ^ (swarOnes * '\\')
	return (w | (w - swarOnes*0x20) | (q - swarOnes) | (b - swarOnes)) & swarHigh
}

// plainASCII marks the bytes that stand for themselves in a JSON string.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// readString consumes a string and returns its value.
func (s *scanner) readString() (string, error) {
	body, escaped, err := s.scanString()
	if err != nil {
		return "", err
	}
	if !escaped {
		return string(body), nil
	}
	return string(unescape(body)), nil
}

// readKey consumes an object key. Without escapes it returns a sub-slice of
// the input, so matching a key costs no allocation.
func (s *scanner) readKey() ([]byte, error) {
	body, escaped, err := s.scanString()
	if err != nil {
		return nil, err
	}
	if !escaped {
		return body, nil
	}
	return unescape(body), nil
}

// unescape decodes the escapes of an already validated string body. A lone
// UTF-16 surrogate becomes U+FFFD, as encoding/json does.
func unescape(body []byte) []byte {
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch body[i+1] {
		case '"', '\\', '/':
			out = append(out, body[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(body[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(body) && body[i] == '\\' && body[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, hex4(body[i+2:i+6])); r2 != utf8.RuneError {
						out = utf8.AppendRune(out, r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		}
		i += 2
	}
	return out
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r = r<<4 | rune(unhex(c))
	}
	return r
}

// skipNumber consumes a number, checking the JSON grammar:
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func (s *scanner) skipNumber() error {
	_, _, err := s.scanNumber()
	return err
}

// scanNumber consumes a number and returns its text and whether it is a
// non-negative integer (no sign, fraction or exponent). Like scanString it
// works on a local index.
func (s *scanner) scanNumber() (text []byte, plainUint bool, err error) {
	d := s.data
	start := s.pos
	i := start
	plainUint = true
	if i < len(d) && d[i] == '-' {
		plainUint = false
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = skipDigits(d, i+1)
	default:
		return nil, false, s.errAtIndex(i, "invalid number")
	}
	if i < len(d) && d[i] == '.' {
		plainUint = false
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return nil, false, s.errAtIndex(i, "invalid number fraction")
		}
		i = skipDigits(d, i+1)
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		plainUint = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return nil, false, s.errAtIndex(i, "invalid number exponent")
		}
		i = skipDigits(d, i+1)
	}
	s.pos = i
	return d[start:i], plainUint, nil
}

// skipDigits returns the index of the first byte at or after i in d that is
// not an ASCII digit, or len(d). Timestamps in nanoseconds and revisions are
// long runs of digits, so it tests eight bytes at a time like skipPlain.
//
// Per byte b, with no carry or borrow coming in: b+0x46 has its high bit
// set iff 0x3a <= b <= 0xb9, and carries out only for b >= 0xba; b-0x30 has
// its high bit set iff b < 0x30 or b >= 0xb0, and borrows only for b < 0x30.
// So the high bit of (b+0x46)|(b-0x30) is set iff b is not a digit, and
// carries and borrows leave only non-digits: the lowest set bit of the mask
// is the first non-digit, as for plainMask.
func skipDigits(d []byte, i int) int {
	for i+8 <= len(d) {
		w := binary.LittleEndian.Uint64(d[i:])
		if m := ((w + swarOnes*0x46) | (w - swarOnes*0x30)) & swarHigh; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

// readUint consumes a number that must be a non-negative integer no larger
// than max. ok is false (with a nil error) when the number is valid JSON but
// not such an integer.
func (s *scanner) readUint(max uint64) (v uint64, ok bool, err error) {
	text, plain, err := s.scanNumber()
	if err != nil || !plain {
		return 0, false, err
	}
	for _, c := range text {
		digit := uint64(c - '0')
		if v > (max-digit)/10 {
			return 0, false, nil
		}
		v = v*10 + digit
	}
	return v, true, nil
}

func (s *scanner) readBool() (bool, error) {
	d := s.data[s.pos:]
	switch {
	case len(d) >= 4 && string(d[:4]) == "true":
		s.pos += 4
		return true, nil
	case len(d) >= 5 && string(d[:5]) == "false":
		s.pos += 5
		return false, nil
	}
	return false, s.errAt("invalid literal")
}

func (s *scanner) skipNull() error {
	d := s.data[s.pos:]
	if len(d) >= 4 && string(d[:4]) == "null" {
		s.pos += 4
		return nil
	}
	return s.errAt("invalid literal")
}

// validJSON reports whether data is exactly one valid JSON value (with
// optional surrounding whitespace), by this scanner's rules.
func validJSON(data []byte) bool {
	s := scanner{data: data}
	if _, err := s.skipValue(); err != nil {
		return false
	}
	return s.atEnd()
}
