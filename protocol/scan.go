package protocol

import (
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

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
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
		// A value.
		switch s.peek() {
		case kindObject, kindArray:
			if err := open(); err != nil {
				return err
			}
			justOpened = true
			continue
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
func (s *scanner) scanString() (body []byte, escaped bool, err error) {
	s.pos++ // opening quote
	start := s.pos
	for s.pos < len(s.data) {
		// Fast path: runs of plain ASCII.
		for s.pos < len(s.data) && plainASCII[s.data[s.pos]] {
			s.pos++
		}
		if s.pos >= len(s.data) {
			break
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			body = s.data[start:s.pos]
			s.pos++
			return body, escaped, nil
		case c == '\\':
			escaped = true
			if s.pos+1 >= len(s.data) {
				return nil, false, s.errAt("unexpected end in a string escape")
			}
			switch s.data[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(s.data) {
					return nil, false, s.errAt("unexpected end in a \\u escape")
				}
				for _, h := range s.data[s.pos+2 : s.pos+6] {
					if unhex(h) < 0 {
						return nil, false, s.errAt("invalid \\u escape")
					}
				}
				s.pos += 6
			default:
				return nil, false, s.errAt("invalid escape in a string")
			}
		case c < 0x20:
			return nil, false, s.errAt("control character in a string")
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size == 1 {
				return nil, false, s.errAt("invalid UTF-8 in a string")
			}
			s.pos += size
		}
	}
	return nil, false, s.errAt("unexpected end in a string")
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
// non-negative integer (no sign, fraction or exponent).
func (s *scanner) scanNumber() (text []byte, plainUint bool, err error) {
	start := s.pos
	d := s.data
	plainUint = true
	if s.pos < len(d) && d[s.pos] == '-' {
		plainUint = false
		s.pos++
	}
	switch {
	case s.pos < len(d) && d[s.pos] == '0':
		s.pos++
	case s.pos < len(d) && d[s.pos] >= '1' && d[s.pos] <= '9':
		for s.pos < len(d) && d[s.pos] >= '0' && d[s.pos] <= '9' {
			s.pos++
		}
	default:
		return nil, false, s.errAt("invalid number")
	}
	if s.pos < len(d) && d[s.pos] == '.' {
		plainUint = false
		s.pos++
		if s.pos >= len(d) || d[s.pos] < '0' || d[s.pos] > '9' {
			return nil, false, s.errAt("invalid number fraction")
		}
		for s.pos < len(d) && d[s.pos] >= '0' && d[s.pos] <= '9' {
			s.pos++
		}
	}
	if s.pos < len(d) && (d[s.pos] == 'e' || d[s.pos] == 'E') {
		plainUint = false
		s.pos++
		if s.pos < len(d) && (d[s.pos] == '+' || d[s.pos] == '-') {
			s.pos++
		}
		if s.pos >= len(d) || d[s.pos] < '0' || d[s.pos] > '9' {
			return nil, false, s.errAt("invalid number exponent")
		}
		for s.pos < len(d) && d[s.pos] >= '0' && d[s.pos] <= '9' {
			s.pos++
		}
	}
	return d[start:s.pos], plainUint, nil
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
