package delta

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"unicode/utf8"
)

// Encode returns the canonical encoding of v: compact JSON with object
// members sorted by name (byte-wise) and no HTML escaping. The same value
// always encodes to the same bytes, which lets the engine compare and cache
// snapshots, and matches encoding/json (with SetEscapeHTML(false)) byte for
// byte on the value model of Decode.
//
// It fails if v holds anything outside that model or a json.Number that is
// not a JSON number.
func Encode(v any) ([]byte, error) {
	n := Size(v)
	if n < 0 {
		// Let the encoder find and describe the bad value.
		return AppendEncode(nil, v)
	}
	// Sizing first costs a walk without sorting, and saves the repeated
	// growing and copying of the output (about twice its size otherwise).
	return AppendEncode(make([]byte, 0, n), v)
}

// AppendEncode appends the canonical encoding of v to dst, so a caller can
// reuse buffers and put the document straight into a larger message. On
// error it returns dst unchanged.
func AppendEncode(dst []byte, v any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	out, err := e.value(dst, v)
	e.release()
	if err != nil {
		return dst, err
	}
	return out, nil
}

// encoder holds one stack of object member names shared by all nesting
// levels, so sorting members allocates nothing once the pool is warm.
type encoder struct {
	keys []string
	high int // highest length of keys, to clear the names it holds
}

var encoders = sync.Pool{New: func() any { return new(encoder) }}

func (e *encoder) release() {
	// Drop the names so a pooled encoder does not pin old documents, and
	// do not pool an encoder grown by one huge object.
	clear(e.keys[:e.high])
	e.keys, e.high = e.keys[:0], 0
	if cap(e.keys) <= 1<<12 {
		encoders.Put(e)
	}
}

func (e *encoder) value(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if v {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return appendString(dst, v), nil
	case json.Number:
		if !validNumber(string(v)) {
			return dst, fmt.Errorf("delta: encode: invalid number %q", string(v))
		}
		return append(dst, v...), nil
	case rawJSON:
		return append(dst, v...), nil
	case []any:
		dst = append(dst, '[')
		var err error
		for i, x := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = e.value(dst, x); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		start := len(e.keys)
		for k := range v {
			e.keys = append(e.keys, k)
		}
		e.high = max(e.high, len(e.keys))
		end := len(e.keys)
		slices.Sort(e.keys[start:end])
		dst = append(dst, '{')
		var err error
		for i := start; i < end; i++ {
			// Index e.keys afresh: nested objects may have grown
			// (and moved) the stack; they truncate it back to end.
			k := e.keys[i]
			if i > start {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			if dst, err = e.value(dst, v[k]); err != nil {
				return dst, err
			}
		}
		e.keys = e.keys[:start]
		return append(dst, '}'), nil
	default:
		return dst, fmt.Errorf("delta: encode: unsupported type %T", v)
	}
}

// Size returns len(Encode(v)) without encoding: it walks v once, without
// sorting or allocating. It returns -1 when Encode would fail.
func Size(v any) int {
	switch v := v.(type) {
	case nil:
		return 4
	case bool:
		if v {
			return 4
		}
		return 5
	case string:
		return stringSize(v)
	case json.Number:
		if !validNumber(string(v)) {
			return -1
		}
		return len(v)
	case rawJSON:
		return len(v)
	case []any:
		n := 2
		if len(v) > 1 {
			n += len(v) - 1
		}
		for _, x := range v {
			s := Size(x)
			if s < 0 {
				return -1
			}
			n += s
		}
		return n
	case map[string]any:
		n := 2
		if len(v) > 1 {
			n += len(v) - 1
		}
		for k, x := range v {
			s := Size(x)
			if s < 0 {
				return -1
			}
			n += stringSize(k) + 1 + s
		}
		return n
	default:
		return -1
	}
}

// safeASCII marks the ASCII bytes that stand for themselves inside a JSON
// string. HTML's <, > and & are among them: documents are not embedded in
// HTML, and escaping them would only make every size larger.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does:
// short escapes for \" \\ \b \f \n \r \t, \u00XX for other control
// characters, \u2028 and \u2029 (which break JavaScript string literals),
// and \ufffd for each byte of invalid UTF-8. stringSize must agree.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += n
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// stringSize returns len(appendString(nil, s)).
func stringSize(s string) int {
	n := 2 + len(s)
	for i := 0; i < len(s); {
		// Plain bytes (safeASCII) take one byte each, as counted.
		if i = plainEndString(s, i); i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if !safeASCII[c] {
				switch c {
				case '"', '\\', '\b', '\f', '\n', '\r', '\t':
					n++ // two bytes for one
				default:
					n += 5 // six bytes for one
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 5 // one bad byte becomes the six bytes \ufffd
		case r == '\u2028' || r == '\u2029':
			n += 3 // three bytes become six
		}
		i += size
	}
	return n
}
