package jsonkit

import "strconv"

// Scanner is a small JSON reader that validates as it goes. The protocol's
// message decoders use it instead of encoding/json so that one pass over
// the bytes both checks the syntax and fills a typed struct, with no
// reflection, and so that every error can name the field it is about. It
// is deliberately strict: invalid UTF-8 is an error (a WebSocket text frame
// must be UTF-8 anyway, and accepting it would make "decode, encode,
// decode" change the value), and nesting deeper than MaxDepth is refused so
// that hostile input cannot make a decoder work hard.
//
// Data is the input and Pos the offset of the next byte to read; callers
// that read structure themselves (an object's members, an array's
// elements) move Pos past the brackets and commas they consume.
type Scanner struct {
	Data []byte
	Pos  int
	// Outer is how many arrays and objects are open around the values
	// read (the object a caller is reading member by member, a message's
	// envelope around its payload): they count against MaxDepth.
	Outer int
}

// MaxDepth bounds the nesting of arrays and objects in any value a Scanner
// reads.
const MaxDepth = 512

// Kind is the type of a JSON value, as the scanner sees its first byte.
type Kind uint8

const (
	KindInvalid Kind = iota
	KindNull
	KindBool
	KindNumber
	KindString
	KindArray
	KindObject
)

func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindBool:
		return "boolean"
	case KindNumber:
		return "number"
	case KindString:
		return "string"
	case KindArray:
		return "array"
	case KindObject:
		return "object"
	}
	return "invalid JSON"
}

// SyntaxError is a JSON syntax error at a byte offset of the input.
type SyntaxError struct {
	Off int
	Msg string
}

func (e *SyntaxError) Error() string {
	return "invalid JSON: " + e.Msg + " at offset " + strconv.Itoa(e.Off)
}

// ErrAt returns a syntax error at the scanner's position.
func (s *Scanner) ErrAt(msg string) error { return &SyntaxError{Off: s.Pos, Msg: msg} }

// errAtIndex is ErrAt at offset i: it moves Pos there first, as the
// scanners that keep their index in a local variable leave it.
func (s *Scanner) errAtIndex(i int, msg string) error {
	s.Pos = i
	return s.ErrAt(msg)
}

// SkipWS moves past white space.
func (s *Scanner) SkipWS() {
	for s.Pos < len(s.Data) {
		// Most calls find no whitespace: one comparison rules it out for
		// every byte above ' '.
		if c := s.Data[s.Pos]; c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return
		}
		s.Pos++
	}
}

// Peek skips whitespace and reports the kind of the next value without
// consuming it. KindInvalid means the input ends or the byte starts no value.
func (s *Scanner) Peek() Kind {
	s.SkipWS()
	if s.Pos >= len(s.Data) {
		return KindInvalid
	}
	switch c := s.Data[s.Pos]; {
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

// AtEnd reports whether only whitespace is left.
func (s *Scanner) AtEnd() bool {
	s.SkipWS()
	return s.Pos >= len(s.Data)
}

// Expect consumes the byte c (after whitespace).
func (s *Scanner) Expect(c byte) error {
	s.SkipWS()
	if s.Pos >= len(s.Data) {
		return s.ErrAt("unexpected end, want '" + string(c) + "'")
	}
	if s.Data[s.Pos] != c {
		return s.ErrAt("unexpected " + strconv.QuoteRune(rune(s.Data[s.Pos])) + ", want '" + string(c) + "'")
	}
	s.Pos++
	return nil
}

// SkipValue consumes one value, validating it, and returns its kind.
func (s *Scanner) SkipValue() (Kind, error) {
	k := s.Peek()
	var err error
	switch k {
	case KindString:
		err = s.skipString()
	case KindNumber:
		_, _, err = s.scanNumber()
	case KindBool:
		_, err = s.ReadBool()
	case KindNull:
		err = s.SkipNull()
	case KindObject, KindArray:
		err = s.skipContainer()
	default:
		if s.Pos >= len(s.Data) {
			return KindInvalid, s.ErrAt("unexpected end, want a value")
		}
		return KindInvalid, s.ErrAt("unexpected " + strconv.QuoteRune(rune(s.Data[s.Pos])) + ", want a value")
	}
	return k, err
}

// skipContainer consumes an object or array without recursion: a bit per
// level records whether that level is an object.
func (s *Scanner) skipContainer() error {
	var stack [MaxDepth / 64]uint64
	depth := 0
	open := func() error {
		if s.Outer+depth >= MaxDepth {
			return s.ErrAt("nesting too deep")
		}
		word, bit := depth/64, uint(depth%64)
		if s.Data[s.Pos] == '{' {
			stack[word] |= 1 << bit
		} else {
			stack[word] &^= 1 << bit
		}
		depth++
		s.Pos++
		return nil
	}
	inObject := func() bool { d := depth - 1; return stack[d/64]&(1<<uint(d%64)) != 0 }
	key := func() error {
		s.SkipWS()
		if s.Pos >= len(s.Data) || s.Data[s.Pos] != '"' {
			return s.ErrAt("want a string key")
		}
		// ScanString called here and below, not through skipString:
		// the extra call would cost a fifth of a short string's scan.
		end, _, f := ScanString(s.Data, s.Pos, false)
		if f.Kind != NoFault {
			return s.stringError(f)
		}
		s.Pos = end
		return s.Expect(':')
	}

	if err := open(); err != nil {
		return err
	}
	// Just after an opening bracket: the container may be empty.
	justOpened := true
	for {
		if justOpened {
			justOpened = false
			s.SkipWS()
			if s.Pos < len(s.Data) {
				c := s.Data[s.Pos]
				if (c == '}' && inObject()) || (c == ']' && !inObject()) {
					s.Pos++
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
		// scanned here directly rather than through SkipValue, which would
		// peek at the value a second time.
		switch s.Peek() {
		case KindObject, KindArray:
			if err := open(); err != nil {
				return err
			}
			justOpened = true
			continue
		case KindString:
			end, _, f := ScanString(s.Data, s.Pos, false)
			if f.Kind != NoFault {
				return s.stringError(f)
			}
			s.Pos = end
		case KindNumber:
			end, _, f := ScanNumber(s.Data, s.Pos)
			if f.Kind != NoFault {
				return s.numberError(f)
			}
			s.Pos = end
		default:
			if _, err := s.SkipValue(); err != nil {
				return err
			}
		}
	afterValue:
		if depth == 0 {
			return nil
		}
		s.SkipWS()
		if s.Pos >= len(s.Data) {
			return s.ErrAt("unexpected end inside a container")
		}
		switch c := s.Data[s.Pos]; {
		case c == ',':
			s.Pos++
			if inObject() {
				if err := key(); err != nil {
					return err
				}
			}
		case c == '}' && inObject(), c == ']' && !inObject():
			s.Pos++
			depth--
			goto afterValue
		default:
			return s.ErrAt("unexpected " + strconv.QuoteRune(rune(c)) + " inside a container")
		}
	}
}

// scanString consumes a string at Pos and returns the bytes between its
// quotes and whether they contain escapes.
func (s *Scanner) scanString() (body []byte, escaped bool, err error) {
	end, flags, f := ScanString(s.Data, s.Pos, false)
	if f.Kind != NoFault {
		return nil, false, s.stringError(f)
	}
	body = s.Data[s.Pos+1 : end-1]
	s.Pos = end
	return body, flags&Escaped != 0, nil
}

// skipString consumes a string at Pos.
func (s *Scanner) skipString() error {
	end, _, f := ScanString(s.Data, s.Pos, false)
	if f.Kind != NoFault {
		return s.stringError(f)
	}
	s.Pos = end
	return nil
}

// stringError words a fault of ScanString, at the offset where the
// scanner has always reported it (an escape's at its backslash).
func (s *Scanner) stringError(f Fault) error {
	switch f.Kind {
	case FaultEndInEscape:
		return s.errAtIndex(f.Esc, "unexpected end in a string escape")
	case FaultBadHex:
		if f.Esc+6 > len(s.Data) {
			return s.errAtIndex(f.Esc, "unexpected end in a \\u escape")
		}
		return s.errAtIndex(f.Esc, "invalid \\u escape")
	case FaultBadEscape:
		return s.errAtIndex(f.Esc, "invalid escape in a string")
	case FaultControl:
		return s.errAtIndex(f.Off, "control character in a string")
	case FaultBadUTF8:
		return s.errAtIndex(f.Off, "invalid UTF-8 in a string")
	case FaultLoneSurrogate:
		return s.errAtIndex(f.Esc, "a \\u escape of a lone UTF-16 surrogate (\\uD800–\\uDFFF must come as a high-low pair)")
	}
	return s.errAtIndex(f.Off, "unexpected end in a string")
}

// ReadString consumes a string and returns its value.
func (s *Scanner) ReadString() (string, error) {
	body, escaped, err := s.scanString()
	if err != nil {
		return "", err
	}
	if !escaped {
		return string(body), nil
	}
	return string(AppendUnquoted(make([]byte, 0, len(body)), body)), nil
}

// ReadKey consumes an object key. Without escapes it returns a sub-slice of
// the input, so matching a key costs no allocation.
//
// It calls ScanString itself rather than through scanString, as every
// member of every message comes through here.
func (s *Scanner) ReadKey() ([]byte, error) {
	start := s.Pos
	end, flags, f := ScanString(s.Data, start, false)
	if f.Kind != NoFault {
		return nil, s.stringError(f)
	}
	s.Pos = end
	body := s.Data[start+1 : end-1]
	if flags == 0 {
		return body, nil
	}
	return AppendUnquoted(make([]byte, 0, len(body)), body), nil
}

// scanNumber consumes a number and returns its text and whether it is a
// non-negative integer (no sign, fraction or exponent).
func (s *Scanner) scanNumber() (text []byte, plainUint bool, err error) {
	start := s.Pos
	end, plainUint, f := ScanNumber(s.Data, start)
	if f.Kind != NoFault {
		return nil, false, s.numberError(f)
	}
	s.Pos = end
	return s.Data[start:end], plainUint, nil
}

// numberError words a fault of ScanNumber, at its offset.
func (s *Scanner) numberError(f Fault) error {
	switch f.Kind {
	case FaultFraction:
		return s.errAtIndex(f.Off, "invalid number fraction")
	case FaultExponent:
		return s.errAtIndex(f.Off, "invalid number exponent")
	}
	return s.errAtIndex(f.Off, "invalid number")
}

// ReadUint consumes a number that must be a non-negative integer no larger
// than max. ok is false (with a nil error) when the number is valid JSON but
// not such an integer.
func (s *Scanner) ReadUint(max uint64) (v uint64, ok bool, err error) {
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

// ReadBool consumes true or false.
func (s *Scanner) ReadBool() (bool, error) {
	d := s.Data[s.Pos:]
	switch {
	case len(d) >= 4 && string(d[:4]) == "true":
		s.Pos += 4
		return true, nil
	case len(d) >= 5 && string(d[:5]) == "false":
		s.Pos += 5
		return false, nil
	}
	return false, s.ErrAt("invalid literal")
}

// SkipNull consumes null.
func (s *Scanner) SkipNull() error {
	d := s.Data[s.Pos:]
	if len(d) >= 4 && string(d[:4]) == "null" {
		s.Pos += 4
		return nil
	}
	return s.ErrAt("invalid literal")
}

// Valid reports whether data is exactly one valid JSON value (with
// optional surrounding whitespace), by the Scanner's rules.
func Valid(data []byte) bool {
	s := Scanner{Data: data}
	if _, err := s.SkipValue(); err != nil {
		return false
	}
	return s.AtEnd()
}
