package jsonkit

import (
	"strconv"
	"unicode/utf8"
)

// refScanner is the protocol's scanner as it was before the SWAR fast
// paths (a table look-up per string byte, a loop per digit, skipValue
// for every value inside a container), kept verbatim as the reference that
// the faster scanner must agree with: same kinds, same end positions, same
// errors at the same offsets. See scanner_test.go. The scanner has since
// moved from protocol to this package, and scans strings and numbers
// through ScanString and ScanNumber, which delta shares.
type refScanner struct {
	data []byte
	pos  int
}

func (s *refScanner) errAt(msg string) error { return &SyntaxError{Off: s.pos, Msg: msg} }

func (s *refScanner) skipWS() {
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
// consuming it. KindInvalid means the input ends or the byte starts no value.
func (s *refScanner) peek() Kind {
	s.skipWS()
	if s.pos >= len(s.data) {
		return KindInvalid
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return KindObject
	case c == '[':
		return KindArray
	case c == '"':
		return KindString
	case c == 't' || c == 'f':
		return KindBool
	case c == 'n':
		return KindNull
	case c == '-' || (c >= '0' && c <= '9'):
		return KindNumber
	}
	return KindInvalid
}

// atEnd reports whether only whitespace is left.
func (s *refScanner) atEnd() bool {
	s.skipWS()
	return s.pos >= len(s.data)
}

// expect consumes the byte c (after whitespace).
func (s *refScanner) expect(c byte) error {
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
func (s *refScanner) skipValue() (Kind, error) {
	k := s.peek()
	var err error
	switch k {
	case KindString:
		_, _, err = s.scanString()
	case KindNumber:
		err = s.skipNumber()
	case KindBool:
		_, err = s.readBool()
	case KindNull:
		err = s.skipNull()
	case KindObject, KindArray:
		err = s.skipContainer()
	default:
		if s.pos >= len(s.data) {
			return KindInvalid, s.errAt("unexpected end, want a value")
		}
		return KindInvalid, s.errAt("unexpected " + strconv.QuoteRune(rune(s.data[s.pos])) + ", want a value")
	}
	return k, err
}

// skipContainer consumes an object or array without recursion: a bit per
// level records whether that level is an object.
func (s *refScanner) skipContainer() error {
	var stack [MaxDepth / 64]uint64
	depth := 0
	open := func() error {
		if depth >= MaxDepth {
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
		case KindObject, KindArray:
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
func (s *refScanner) scanString() (body []byte, escaped bool, err error) {
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
				// A surrogate must be a high one followed at once by a
				// \u escape of a low one.
				if v := refHex(s.data[s.pos+2 : s.pos+6]); v >= 0xd800 && v <= 0xdfff {
					next := s.data[s.pos+6:]
					if v >= 0xdc00 || len(next) < 6 || next[0] != '\\' || next[1] != 'u' {
						return nil, false, s.errAt(loneSurrogate)
					}
					if lo := refHex(next[2:6]); lo < 0xdc00 || lo > 0xdfff {
						return nil, false, s.errAt(loneSurrogate)
					}
					s.pos += 6
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

// skipNumber consumes a number, checking the JSON grammar:
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func (s *refScanner) skipNumber() error {
	_, _, err := s.scanNumber()
	return err
}

// scanNumber consumes a number and returns its text and whether it is a
// non-negative integer (no sign, fraction or exponent).
func (s *refScanner) scanNumber() (text []byte, plainUint bool, err error) {
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

func (s *refScanner) readBool() (bool, error) {
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

func (s *refScanner) skipNull() error {
	d := s.data[s.pos:]
	if len(d) >= 4 && string(d[:4]) == "null" {
		s.pos += 4
		return nil
	}
	return s.errAt("invalid literal")
}

const loneSurrogate = "a \\u escape of a lone UTF-16 surrogate (\\uD800–\\uDFFF must come as a high-low pair)"

// refHex is the value of four hex digits, or -1.
func refHex(b []byte) int {
	v, err := strconv.ParseUint(string(b), 16, 16)
	if err != nil {
		return -1
	}
	return int(v)
}
