package jsonkit

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// sameError reports whether two scanner errors are both nil, or both
// syntax errors with the same offset and message.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var sa, sb *SyntaxError
	return errors.As(a, &sa) && errors.As(b, &sb) && *sa == *sb
}

// checkScanString compares scanString with the reference's on data, the
// string's opening quote at data[pos]: same body, same escaped flag, same
// end position, same error at the same offset.
func checkScanString(t *testing.T, data []byte, pos int) {
	t.Helper()
	got, want := Scanner{Data: data, Pos: pos}, refScanner{data: data, pos: pos}
	gBody, gEsc, gErr := got.scanString()
	wBody, wEsc, wErr := want.scanString()
	if !bytes.Equal(gBody, wBody) || (gBody == nil) != (wBody == nil) || gEsc != wEsc || !sameError(gErr, wErr) || got.Pos != want.pos {
		t.Fatalf("scanString(%q at %d) = %q, %v, %v, pos %d; reference %q, %v, %v, pos %d",
			data, pos, gBody, gEsc, gErr, got.Pos, wBody, wEsc, wErr, want.pos)
	}
}

// checkScanNumber compares scanNumber with the reference's on data from pos.
func checkScanNumber(t *testing.T, data []byte, pos int) {
	t.Helper()
	got, want := Scanner{Data: data, Pos: pos}, refScanner{data: data, pos: pos}
	gText, gPlain, gErr := got.scanNumber()
	wText, wPlain, wErr := want.scanNumber()
	if !bytes.Equal(gText, wText) || gPlain != wPlain || !sameError(gErr, wErr) || got.Pos != want.pos {
		t.Fatalf("scanNumber(%q at %d) = %q, %v, %v, pos %d; reference %q, %v, %v, pos %d",
			data, pos, gText, gPlain, gErr, got.Pos, wText, wPlain, wErr, want.pos)
	}
}

// checkSkipValue compares SkipValue (and so skipContainer and skipWS) with
// the reference's on data from pos, then atEnd.
func checkSkipValue(t *testing.T, data []byte, pos int) {
	t.Helper()
	got, want := Scanner{Data: data, Pos: pos}, refScanner{data: data, pos: pos}
	gKind, gErr := got.SkipValue()
	wKind, wErr := want.skipValue()
	if gKind != wKind || !sameError(gErr, wErr) || got.Pos != want.pos {
		t.Fatalf("skipValue(%q at %d) = %v, %v, pos %d; reference %v, %v, pos %d",
			data, pos, gKind, gErr, got.Pos, wKind, wErr, want.pos)
	}
	if gErr == nil && got.AtEnd() != want.atEnd() {
		t.Fatalf("atEnd after skipValue(%q at %d) differs", data, pos)
	}
}

// specials are byte sequences that the fast paths must stop at or handle
// exactly, each tried at every offset of a word.
var specials = []string{
	`"`, `\`, `\"`, `\\`, `\/`, `\n`, `\u00e9`, `\uD83D\uDE00`, `\u12`, `\uZZZZ`, `\x`,
	`\uD800`, `\udbff\udfff`, `\uDC00`, `\uD83D\u0041`, `\uD83D\uD83D`, `\uD83D\uDE0`, `\uD83D\uDEZZ`, `\uD83D\`, `\uD83D\n`,
	"\x00", "\x01", "\x1f", " ", "\x7f", "~", "!", "#", "[", "]", "]", "\x21", "\x23", "\x5b", "\x5d",
	"é", "€", "😀", "\x80", "\xbf", "\xc0", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xff", "\xed\xa0\x80",
	"\xc3\x28", "\xf4\x90\x80\x80",
}

// TestScanStringMatchesReference puts each special sequence at every
// position of a word, with every alignment of the string's start, followed
// by a closing quote, by more text, or by the end of the input.
func TestScanStringMatchesReference(t *testing.T) {
	for lead := 0; lead < 8; lead++ { // bytes before the opening quote
		for before := 0; before < 20; before++ { // plain bytes before the special one
			for _, sp := range specials {
				for _, after := range []string{``, `"`, `abc"`, `abcdefghijklmnop"`, `abcdefghijklmnop`, `"}`} {
					data := strings.Repeat(" ", lead) + `"` + strings.Repeat("x", before) + sp + after
					checkScanString(t, []byte(data), lead)
				}
			}
		}
	}
}

// TestScanStringBorrows checks the SWAR masks on words where a special
// byte sits just below bytes that are one more than '"', '\\' or 0x20 or
// are 0x80 (where a borrow would change the test), and on every single byte
// value at every position of a word.
func TestScanStringBorrows(t *testing.T) {
	for c := 0; c < 256; c++ {
		for at := 0; at < 17; at++ {
			b := bytes.Repeat([]byte{'a'}, 24)
			b[at] = byte(c)
			checkScanString(t, append([]byte{'"'}, b...), 0)
			checkScanString(t, append(append([]byte{'"'}, b...), '"'), 0)
		}
	}
	near := []byte{'"', '\\', 0x00, 0x1f, 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x5c, 0x7f, 0x80, 0xc3, 0xa9, 'x'}
	rng := rand.New(rand.NewPCG(1, 2))
	t.Logf("seed 1, 2")
	for range 200000 {
		b := make([]byte, 1+rng.IntN(40))
		b[0] = '"'
		for i := 1; i < len(b); i++ {
			if rng.IntN(4) == 0 {
				b[i] = near[rng.IntN(len(near))]
			} else {
				b[i] = 'a' + byte(rng.IntN(26))
			}
		}
		checkScanString(t, b, 0)
	}
}

func TestScanNumberMatchesReference(t *testing.T) {
	nums := []string{
		"0", "-0", "1", "-", "01", "1.", "1.5", "1e", "1e+", "1E-7", "-1.5e3", "1764000000000000000",
		"12345678", "123456789", "1234567890123456", "12345678901234567", "1.12345678901234567e12345678901",
		"0.0000000000000001", "9/", "9:", "9\x80", "9\xb9", "9\xba", "9\xff", "9\x2f", "9\x3a",
	}
	for lead := 0; lead < 8; lead++ {
		for _, n := range nums {
			for _, after := range []string{``, `,`, `}`, ` `, `0`, `a`, "12345678\x00"} {
				data := strings.Repeat(" ", lead) + n + after
				checkScanNumber(t, []byte(data), lead)
			}
		}
	}
	for c := 0; c < 256; c++ {
		for at := 1; at < 17; at++ {
			b := bytes.Repeat([]byte{'7'}, 20)
			b[at] = byte(c)
			checkScanNumber(t, b, 0)
			checkScanNumber(t, b[:at+1], 0)
		}
	}
}

// TestSkipValueMatchesReference runs skipValue on documents made of the
// same pieces as the string tests, with whitespace and nesting around them.
func TestSkipValueMatchesReference(t *testing.T) {
	docs := []string{
		`{"k12":{"~":1764000000000000000,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}`,
		` [ 1 , -2.5e+3 , "a\u00e9" , true , false , null , { } , [ ] , {"a":[{"b":"c"}]} ] `,
		`{"a":1,}`, `{"a" 1}`, `{"a":1 "b":2}`, `[1,]`, `[1 2]`, `{"a":[}`, `{1:2}`, `{"a":tru}`, `[nul]`,
		`{"a":"b`, `{"a":"b\`, `{"a":`, `{"a"`, `{`, `[`, `[[[[`, `]`, `}`, `"abc`, `-`, `01`, `1.e3`,
		"{\"a\":\"\x01\"}", "[\"\xff\"]", "{\"\xc3\xa9\":0}", "{\"a\":1}\x00",
		strings.Repeat("[", 511) + strings.Repeat("]", 511),
		strings.Repeat("[", 512) + strings.Repeat("]", 512),
		strings.Repeat(`{"a":`, 512) + "1" + strings.Repeat("}", 512),
		strings.Repeat(`[{"x":`, 300) + `"deep"` + strings.Repeat("}]", 300),
	}
	for _, doc := range docs {
		for cut := 0; cut <= len(doc); cut++ {
			checkSkipValue(t, []byte(doc[:cut]), 0)
		}
		for pos := 0; pos < len(doc); pos++ {
			checkSkipValue(t, []byte(doc), pos)
		}
	}
}

// FuzzScanner checks scanString, scanNumber and skipValue against the
// reference scanner (the byte-by-byte one they replaced) on any input, from
// any starting position. Run it with:
//
//	go test ./internal/jsonkit/ -run '^$' -fuzz '^FuzzScanner$' -fuzztime 20s
func FuzzScanner(f *testing.F) {
	f.Add([]byte(`"hello, world"`), uint8(0))
	f.Add([]byte(`  "abcdefghijklmnopqrstuvwxyz\u00e9\n\"é😀"`), uint8(2))
	f.Add([]byte("\"abcdefg\x1fhijk\""), uint8(0))
	f.Add([]byte("\"abcdefg\xffhijk\""), uint8(0))
	f.Add([]byte(`"abcdefgh\`), uint8(0))
	f.Add([]byte(`-1764000000000000000.25e+12,`), uint8(0))
	f.Add([]byte(`{"k12":{"~":1764000000000000000,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxx"},"k13":[1,true,null]}`), uint8(0))
	f.Add([]byte(`[{"a":"b\u12"}]`), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, at uint8) {
		if len(data) == 0 {
			return
		}
		pos := int(at) % len(data)
		checkScanString(t, data, pos)
		checkScanNumber(t, data, pos)
		checkSkipValue(t, data, pos)
		checkSkipValue(t, data, 0)
	})
}

// BenchmarkScanString compares ScanString, which the scanners' hot paths
// call directly, with the byte-by-byte reference on short and long ASCII
// strings and on text that is mostly or partly multibyte UTF-8 (where the
// fast path cannot skip much).
func BenchmarkScanString(b *testing.B) {
	inputs := []struct{ name, body string }{
		{"ascii8", strings.Repeat("x", 8)},
		{"ascii80", strings.Repeat("x", 80)},
		{"ascii1000", strings.Repeat("x", 1000)},
		{"french", strings.Repeat("déjà vu, où est-il passé ? ", 20)},
		{"cjk", strings.Repeat("同步文档服务器", 40)},
		{"escapes", strings.Repeat(`line\n\"quoted\" `, 20)},
	}
	for _, in := range inputs {
		data := []byte(`"` + in.body + `"`)
		b.Run(in.name+"/swar", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, _, f := ScanString(data, 0, false); f.Kind != NoFault {
					b.Fatal(f)
				}
			}
		})
		b.Run(in.name+"/ref", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				s := refScanner{data: data}
				if _, _, err := s.scanString(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSWARMasksExhaustive checks PlainEnd and DigitsEnd on every pair of
// adjacent byte values at every position of a word (a borrow or carry goes
// from a byte to the next), in words of plain bytes or of digits.
func TestSWARMasksExhaustive(t *testing.T) {
	firstNot := func(w []byte, ok func(byte) bool) int {
		for i, c := range w {
			if !ok(c) {
				return i
			}
		}
		return len(w)
	}
	isPlain := func(c byte) bool { return plainASCII[c] }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for at := 0; at < 8; at++ {
		for x := 0; x < 256; x++ {
			for y := 0; y < 256; y++ {
				w := []byte("abcdefgh01234567")
				w[at], w[at+1] = byte(x), byte(y)
				if got, want := PlainEnd(w[:8], 0), firstNot(w[:8], isPlain); got != want {
					t.Fatalf("PlainEnd(%q) = %d, want %d", w[:8], got, want)
				}
				if got, want := PlainEnd(w, 0), firstNot(w, isPlain); got != want {
					t.Fatalf("PlainEnd(%q) = %d, want %d", w, got, want)
				}
				w = []byte("0123456789012345")
				w[at], w[at+1] = byte(x), byte(y)
				if got, want := DigitsEnd(w, 0), firstNot(w, isDigit); got != want {
					t.Fatalf("DigitsEnd(%q) = %d, want %d", w, got, want)
				}
			}
		}
	}
}
