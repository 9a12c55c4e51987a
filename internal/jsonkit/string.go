package jsonkit

import (
	"unicode/utf16"
	"unicode/utf8"
)

// StringFlags says what a string's body holds that its bytes do not show
// as they are.
type StringFlags uint8

const (
	// Escaped: the body has backslash escapes.
	Escaped StringFlags = 1 << iota
	// InvalidUTF8: the body has bytes of invalid UTF-8 (only when
	// ScanString was asked to allow them); AppendUnquoted turns each into
	// U+FFFD, as encoding/json does.
	InvalidUTF8
)

// ScanString checks the string whose opening quote is d[i] and returns the
// index just after its closing quote, so that its body is d[i+1:end-1],
// and flags, which are zero when the body is the string's value as it is.
// Escapes must be well formed and control characters escaped; invalid
// UTF-8 is a fault unless allowInvalidUTF8, which sets InvalidUTF8 instead.
// So is a \u escape of a lone UTF-16 surrogate (one not in a high-low
// pair): decoders disagree on it (encoding/json makes it U+FFFD,
// JavaScript's JSON.parse keeps it), so a value holding one would not read
// the same everywhere. allowInvalidUTF8 lets it through too, as
// encoding/json does.
//
// It works on a local index and returns it, rather than moving a cursor
// through a pointer: a store per byte costs more than the test of the byte.
func ScanString(d []byte, i int, allowInvalidUTF8 bool) (end int, flags StringFlags, f Fault) {
	i++ // after the opening quote
	for {
		// Fast path: skip the bytes that stand for themselves, eight at a
		// time, to the first one that needs a look.
		i = PlainEnd(d, i)
		if i >= len(d) {
			return i, flags, Fault{Kind: FaultEnd, Off: len(d)}
		}
		c := d[i]
		switch {
		case c == '"':
			return i + 1, flags, Fault{}
		case c == '\\':
			flags |= Escaped
			if i+1 >= len(d) {
				return i, flags, Fault{Kind: FaultEndInEscape, Off: len(d), Esc: i}
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for j := i + 2; j < i+6; j++ {
					if j >= len(d) || unhex(d[j]) < 0 {
						return i, flags, Fault{Kind: FaultBadHex, Off: min(j, len(d)), Esc: i}
					}
				}
				if !allowInvalidUTF8 && utf16.IsSurrogate(hex4(d[i+2:i+6])) {
					if !pairedSurrogate(d, i) {
						return i, flags, Fault{Kind: FaultLoneSurrogate, Off: i, Esc: i}
					}
					i += 6 // the low half, checked by pairedSurrogate
				}
				i += 6
			default:
				return i, flags, Fault{Kind: FaultBadEscape, Off: i + 1, Esc: i}
			}
		case c < 0x20:
			return i, flags, Fault{Kind: FaultControl, Off: i}
		case c < utf8.RuneSelf:
			// Not reached (PlainEnd stops only at '"', '\\', control
			// characters and non-ASCII), kept so that correctness does not
			// depend on PlainEnd being exact.
			i++
		default:
			// Validate a run of multibyte characters here rather than going
			// back to PlainEnd after each one, which would cost a wasted
			// word test per character in non-Latin text.
			for i < len(d) && d[i] >= utf8.RuneSelf {
				r, size := utf8.DecodeRune(d[i:])
				if r == utf8.RuneError && size == 1 {
					if !allowInvalidUTF8 {
						return i, flags, Fault{Kind: FaultBadUTF8, Off: i}
					}
					flags |= InvalidUTF8
				}
				i += size
			}
		}
	}
}

// unhex is the value of the hex digit c, or -1.
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

// pairedSurrogate reports whether the \u escape at d[i:i+6], a surrogate,
// is a high surrogate followed at once by a \u escape of a low one.
func pairedSurrogate(d []byte, i int) bool {
	hi := hex4(d[i+2 : i+6])
	if hi >= 0xdc00 || i+12 > len(d) || d[i+6] != '\\' || d[i+7] != 'u' {
		return false
	}
	for _, c := range d[i+8 : i+12] {
		if unhex(c) < 0 {
			return false
		}
	}
	lo := hex4(d[i+8 : i+12])
	return lo >= 0xdc00 && lo <= 0xdfff
}
