package jsonkit

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// PlainEnd returns the index of the first byte at or after i in d that does
// not stand for itself in a JSON string ('"', '\\', a control character, or
// a byte of a multibyte UTF-8 sequence), or len(d) if there is none.
//
// It is hand-written SWAR ("SIMD within a register"): eight bytes are loaded
// as one little-endian uint64 and tested with a few arithmetic operations,
// so a run of plain ASCII costs one test per word instead of one table
// look-up per byte: about four times faster on strings of 80 bytes or more,
// such as the ones that make up a large SYNC.SNAPSHOT or document
// (BenchmarkScanString). There is nothing to call instead: the standard
// library has no SIMD, and encoding/json validates a byte at a time (v1
// steps a state machine per byte; v2's jsontext looks each byte up in a
// table, like the loop this replaced). The mask is exact: see plainMask,
// TestSWARMasksExhaustive and FuzzScanner, which compares the scanner with
// the byte-by-byte one it replaced (ref_test.go).
func PlainEnd(d []byte, i int) int {
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

// PlainEndString is PlainEnd for a string (the encoder measuring one): the
// eight byte loads compile to one.
func PlainEndString(s string, i int) int {
	for i+8 <= len(s) {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if m := plainMask(w); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(s) && plainASCII[s[i]] {
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
// HTML's <, > and & are among them: nothing here is embedded in HTML.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// DigitsEnd returns the index of the first byte at or after i in d that is
// not an ASCII digit, or len(d). Timestamps in nanoseconds and revisions are
// long runs of digits, so it tests eight bytes at a time like PlainEnd.
//
// Per byte b, with no carry or borrow coming in: b+0x46 has its high bit
// set iff 0x3a <= b <= 0xb9, and carries out only for b >= 0xba; b-0x30 has
// its high bit set iff b < 0x30 or b >= 0xb0, and borrows only for b < 0x30.
// So the high bit of (b+0x46)|(b-0x30) is set iff b is not a digit, and
// carries and borrows leave only non-digits: the lowest set bit of the mask
// is the first non-digit, as for plainMask.
func DigitsEnd(d []byte, i int) int {
	for i+8 <= len(d) {
		w := binary.LittleEndian.Uint64(d[i:])
		if m := ((w + swarOnes*0x46) | (w - swarOnes*0x30)) & swarHigh; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(d) && isDigit(d[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
