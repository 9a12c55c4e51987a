package jsonkit

import (
	"unicode/utf16"
	"unicode/utf8"
)

// AppendUnquoted appends to dst the value of a string body that ScanString
// accepted: escapes decoded, and each byte of invalid UTF-8, like a \u
// escape of a lone UTF-16 surrogate, replaced by U+FFFD, as encoding/json
// does. Runs of plain bytes are copied whole (PlainEnd finds their end).
func AppendUnquoted(dst, body []byte) []byte {
	for i := 0; i < len(body); {
		if j := PlainEnd(body, i); j > i {
			dst = append(dst, body[i:j]...)
			if i = j; i >= len(body) {
				break
			}
		}
		c := body[i]
		if c != '\\' {
			// A multibyte character, or a byte of invalid UTF-8, which
			// decodes as (RuneError, 1). ScanString let no other byte in.
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, r)
			} else {
				dst = append(dst, body[i:i+size]...)
			}
			i += size
			continue
		}
		switch body[i+1] {
		case '"', '\\', '/':
			dst = append(dst, body[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(body[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				// A high surrogate escape followed by a low one is one
				// character; any other surrogate escape is U+FFFD, and
				// what follows it is read on its own.
				if i+6 <= len(body) && body[i] == '\\' && body[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, hex4(body[i+2:i+6])); r2 != utf8.RuneError {
						dst = utf8.AppendRune(dst, r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		}
		i += 2
	}
	return dst
}

// hex4 is the value of four hex digits that ScanString has checked.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r = r<<4 | rune(unhex(c))
	}
	return r
}
