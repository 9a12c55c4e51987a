package delta_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd/delta"
)

// Decode is hand-written for speed (see decode.go); these tests hold it to
// encoding/json, which it replaced: the same inputs accepted, the same
// values built.

// stdDecode is the reference: what Decode did before it was hand-written,
// encoding/json's Decoder with UseNumber, taking exactly one value.
func stdDecode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

// checkDecodeMatches checks Decode, ParseMergePatch and ParseJSONPatch on
// data against encoding/json and the reference model.
func checkDecodeMatches(t tb, data []byte) {
	t.Helper()
	got, err := delta.Decode(data)
	want, stdErr := stdDecode(data)
	if (err == nil) != (stdErr == nil) {
		t.Fatalf("Decode(%q): error %v; encoding/json: error %v", data, err, stdErr)
	}
	if err != nil {
		if p, err := delta.ParseMergePatch(data); err == nil {
			t.Fatalf("ParseMergePatch(%q) accepted malformed JSON: %s", data, delta.MergeTree(p))
		} else if !errors.Is(err, delta.ErrInvalidPatch) {
			t.Fatalf("ParseMergePatch(%q): %v is not ErrInvalidPatch", data, err)
		}
		if _, err := delta.ParseJSONPatch(data); err == nil {
			t.Fatalf("ParseJSONPatch(%q) accepted malformed JSON", data)
		} else if !errors.Is(err, delta.ErrInvalidPatch) {
			t.Fatalf("ParseJSONPatch(%q): %v is not ErrInvalidPatch", data, err)
		}
		return
	}
	// DeepEqual also compares numbers' text and tells nil from empty
	// containers; Equal is the package's own sense of equality.
	if !delta.Equal(got, want) || !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%q) = %#v; encoding/json gives %#v", data, got, want)
	}

	// A merge patch is prepared while it is decoded; that must give what
	// preparing the decoded value gives.
	mp, err := delta.ParseMergePatch(data)
	if err != nil {
		t.Fatalf("ParseMergePatch(%q): %v", data, err)
	}
	if g, w := delta.MergeTree(mp), delta.MergeTree(delta.PrepareMergePatch(want)); g != w {
		t.Fatalf("ParseMergePatch(%q) prepared\n%s\nwant\n%s", data, g, w)
	}

	// A JSON Patch is read straight from the bytes; that must agree with
	// the reference model on the decoded value.
	jp, err := delta.ParseJSONPatch(data)
	list, isList := want.([]any)
	firstBad := slices.IndexFunc(list, func(o any) bool { return !modelValidOp(o) })
	if valid := isList && firstBad < 0; (err == nil) != valid {
		t.Fatalf("ParseJSONPatch(%q) = %v, want valid=%v", data, err, valid)
	}
	if err != nil {
		var de *delta.Error
		if !errors.As(err, &de) || !errors.Is(err, delta.ErrInvalidPatch) {
			t.Fatalf("ParseJSONPatch(%q): %v is not an ErrInvalidPatch *Error", data, err)
		}
		wantOp := -1 // a patch that is not an array is wrong as a whole
		if isList {
			wantOp = firstBad
		}
		if de.Op != wantOp {
			t.Fatalf("ParseJSONPatch(%q): error %v names op %d, want the first bad one", data, err, de.Op)
		}
		return
	}
	b, err := jp.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	if w := modelMarshalJSONPatch(t, list); !bytes.Equal(b, w) {
		t.Fatalf("ParseJSONPatch(%q) marshals to %s, want %s", data, b, w)
	}
}

// modelMarshalJSONPatch is what MarshalJSON must give for the valid
// operations list: each with op, from (move and copy), path and value
// (add, replace, test), in that order; other members dropped.
func modelMarshalJSONPatch(t tb, list []any) []byte {
	t.Helper()
	out := []byte{'['}
	for i, raw := range list {
		o := raw.(map[string]any)
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"op":`...)
		out = append(out, mustEncode(t, o["op"])...)
		if o["op"] == "move" || o["op"] == "copy" {
			out = append(out, `,"from":`...)
			out = append(out, mustEncode(t, o["from"])...)
		}
		out = append(out, `,"path":`...)
		out = append(out, mustEncode(t, o["path"])...)
		if v, ok := o["value"]; ok && o["op"] != "remove" && o["op"] != "move" && o["op"] != "copy" {
			out = append(out, `,"value":`...)
			out = append(out, mustEncode(t, v)...)
		}
		out = append(out, '}')
	}
	return append(out, ']')
}

// trickyJSON are inputs where a JSON decoder is easily wrong.
var trickyJSON = []string{
	// Nothing, or white space only; literals and their near misses.
	``, ` `, " \t\r\n", `null`, `true`, `false`, `nul`, `tru`, `fals`, `nullx`, `truefalse`, `NULL`, `True`,
	// Numbers.
	`0`, `-0`, `-`, `01`, `-01`, `00`, `1.`, `.1`, `-.1`, `1.e1`, `1e`, `1e+`, `1E-7`, `1e07`, `-0.0e-0`,
	`1e400`, `-1e-400`, `123456789012345678901234567890`, `0.1e1`, `+1`, `0x10`, `Infinity`, `NaN`, `1_000`,
	`1.5E+10`, `2e308`, `[-]`, `[1e]`, `{"a":-}`,
	// Strings: escapes, surrogates, invalid UTF-8, control characters.
	`""`, `"\""`, `"\\\/\b\f\n\r\t"`, `"\u0041\u00e9\u20AC"`, `"\uD834\uDD1E"`, `"\ud834\udd1e"`,
	`"\ud800"`, `"\udc00"`, `"\ud800\ud800"`, `"\ud800\u0041"`, `"\ud800x"`, `"\udc00\ud800"`,
	`"\ud800\udc00\udc00"`, `"\ud800\\"`, `"\ud800\"`, `"\ud800\u"`, `"\ud800\udc0"`, `"\ud800\udcxx"`,
	`"\u12"`, `"\u12g4"`, `"\x"`, `"\'"`, `"\U0041"`, `"\u0000"`, `"\u001f"`,
	"\"\xff\"", "\"a\xffb\"", "\"\xed\xa0\x80\"", "\"\xc3\"", "\"\xc3(\"", "\"\xf4\x90\x80\x80\"",
	"\"\xef\xbf\xbd\"", `"\ufffd"`, "\"a\x00b\"", "\"\x1f\"", "\"\x7f\"", "\"\t\"", "\"\n\"",
	`"unterminated`, `"\`, `"abc\`, `"é€𝄞"`, "\"\xe2\x80\xa8\"",
	// Arrays and objects.
	`[]`, `[ ]`, `[1,]`, `[,1]`, `[1 2]`, `[1,,2]`, `[`, `]`, `[[]]`, `[[],[{}]]`,
	`{}`, `{ }`, `{"a":1,}`, `{,"a":1}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a"}`, `{"a":}`, `{1:2}`, `{a:1}`,
	`{"a":1,"a":2}`, `{"a":{"b":1},"a":null}`, `{"a":null,"a":{"b":null}}`, `{"":0}`, `{"\u0061":1,"a":2}`,
	`{"a\ud800":1,"a\udc00":2}`, "{\"\xff\":1,\"\xfe\":2}", `{"a":[1,{"b":[null]}]}`,
	// White space everywhere, and bytes that are not JSON white space.
	" \t\r\n{\t\"a\"\r:\n[ 1 , 2 ]\t,\"b\" : { } }\n ", "\u00a0{}", "\xef\xbb\xbf{}", "{}\x00", "\f{}", "\v1",
	// Trailing data.
	`[] x`, `{} {}`, `1 2`, `"a""b"`, `[1]]`, `{}}`, `1x`, `0 0`, `nulll`, `[]/`,
	// Patches: repeated, escaped and unknown members, values everywhere.
	`[{"op":"add","path":"/a","value":1,"op":"remove"}]`,
	`[{"op":"test","path":"/a","value":{"x":[1,{"y":null}]}},{"op":"move","from":"/a","path":"/b","extra":[1,2,{"z":"\u00e9"}]}]`,
	`[{"\u006fp":"remove","path":"/a"}]`, `[{"op":"remove","path":"/a","path":1}]`, `[{"op":"add","path":"/a~1b","value":null}]`,
	`[{"op":"add","path":"/a","value":1},2]`, `[{"op":"bogus"},{"op":"add"`, `[{"op":"add","path":"","value":[]} ]`,
	`{"a":{"b":{"c":null}},"a":{"d":1}}`, `{"a/b":{"~":null},"":{"":{}}}`, `{"z":1,"y":{"x":2,"w":null}}`,
}

// deepJSON nests n arrays, or objects, around a value.
func deepJSON(n int, object bool) string {
	if object {
		return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
	}
	return strings.Repeat("[", n) + strings.Repeat("]", n)
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, s := range trickyJSON {
		checkDecodeMatches(t, []byte(s))
	}
}

// TestDecodeDepth checks the nesting bound, which is encoding/json's.
func TestDecodeDepth(t *testing.T) {
	for _, object := range []bool{false, true} {
		for _, n := range []int{9999, 10000, 10001, 100000} {
			data := []byte(deepJSON(n, object))
			_, err := delta.Decode(data)
			if want := n <= 10000; (err == nil) != want || json.Valid(data) != want {
				t.Errorf("depth %d (objects %v): Decode error %v, json.Valid %v; want accepted=%v", n, object, err, json.Valid(data), want)
			}
			// The patch parsers count depth the same way.
			if _, err := delta.ParseMergePatch(data); (err == nil) != (n <= 10000) {
				t.Errorf("depth %d (objects %v): ParseMergePatch error %v", n, object, err)
			}
			if !object {
				if _, err := delta.ParseJSONPatch(data); err == nil || (n <= 10000) != !strings.Contains(err.Error(), "depth") {
					t.Errorf("depth %d: ParseJSONPatch error %v", n, err)
				}
			}
		}
	}
	// Inside an operation value too.
	data := []byte(`[{"op":"add","path":"/a","value":` + deepJSON(9998, false) + `}]`)
	if _, err := delta.ParseJSONPatch(data); err != nil {
		t.Errorf("depth 10000 through an operation: %v", err)
	}
	data = []byte(`[{"op":"add","path":"/a","value":` + deepJSON(9999, false) + `}]`)
	if _, err := delta.ParseJSONPatch(data); err == nil || !strings.Contains(err.Error(), "depth") {
		t.Errorf("depth 10001 through an operation: %v", err)
	}
}

// TestDecodeMatchesEncodingJSONProperty compares with encoding/json on
// random JSON text, and on the same text with a byte deleted, inserted or
// changed, which is usually no longer JSON.
func TestDecodeMatchesEncodingJSONProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var b []byte
		drawJSON(t, &b, 4)
		if len(b) > 0 {
			i := rapid.IntRange(0, len(b)-1).Draw(t, "at")
			switch rapid.IntRange(0, 5).Draw(t, "mutation") {
			case 1:
				b = slices.Delete(b, i, i+1)
			case 2:
				b = slices.Insert(b, i, rapid.SampledFrom([]byte(mutationBytes)).Draw(t, "byte"))
			case 3:
				b[i] = rapid.SampledFrom([]byte(mutationBytes)).Draw(t, "byte")
			case 4:
				b = b[:i]
			}
		}
		checkDecodeMatches(t, b)
	})
}

// TestParsePatchMatchesModelProperty runs the same comparison on patches of
// the property tests' generators (mostly well-formed, so the operations and
// merge members are read, checked and prepared), some of them mutated.
func TestParsePatchMatchesModelProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := drawPatch(t, docGen.Draw(t, "doc"))
		if rapid.IntRange(0, 3).Draw(t, "mutate") == 0 {
			i := rapid.IntRange(0, len(b)-1).Draw(t, "at")
			b = slices.Insert(b, i, rapid.SampledFrom([]byte(mutationBytes)).Draw(t, "byte"))
		}
		checkDecodeMatches(t, b)
	})
}

// mutationBytes are the bytes a mutation puts in: JSON syntax, the bytes
// that start or continue numbers, escapes, space, control and invalid UTF-8.
const mutationBytes = "{}[],:\"\\/-+.eE0123456789tfnu \t\n\r\x00\x1f\x7f\x80\xc3\xed\xff"

var sampleKeys = []string{"op", "path", "from", "value", "a", "b", "", "a/b", "~", "é"}

// drawJSON appends random valid JSON text to b, nested at most depth deep:
// white space anywhere, every kind of escape, numbers of every shape,
// repeated member names, and raw invalid UTF-8 (which is valid JSON text to
// encoding/json, and becomes U+FFFD).
func drawJSON(t *rapid.T, b *[]byte, depth int) {
	drawSpace(t, b)
	kind := rapid.IntRange(0, 9).Draw(t, "jsonKind")
	if depth <= 0 && kind >= 6 {
		kind = 0
	}
	switch kind {
	case 0:
		*b = append(*b, rapid.SampledFrom([]string{"null", "true", "false"}).Draw(t, "literal")...)
	case 1, 2:
		drawNumberText(t, b)
	case 3, 4, 5:
		drawStringText(t, b, "string")
	case 6, 7:
		*b = append(*b, '[')
		n := rapid.IntRange(0, 4).Draw(t, "arrayLen")
		for i := range n {
			if i > 0 {
				*b = append(*b, ',')
			}
			drawJSON(t, b, depth-1)
		}
		drawSpace(t, b)
		*b = append(*b, ']')
	case 8, 9:
		*b = append(*b, '{')
		n := rapid.IntRange(0, 4).Draw(t, "objectLen")
		for i := range n {
			if i > 0 {
				*b = append(*b, ',')
			}
			drawSpace(t, b)
			if rapid.IntRange(0, 3).Draw(t, "keyKind") == 0 {
				drawStringText(t, b, "key")
			} else {
				*b = strconv.AppendQuote(*b, rapid.SampledFrom(sampleKeys).Draw(t, "sampleKey"))
			}
			drawSpace(t, b)
			*b = append(*b, ':')
			drawJSON(t, b, depth-1)
		}
		drawSpace(t, b)
		*b = append(*b, '}')
	}
	drawSpace(t, b)
}

func drawSpace(t *rapid.T, b *[]byte) {
	if rapid.IntRange(0, 4).Draw(t, "hasSpace") == 0 {
		*b = append(*b, rapid.StringOfN(rapid.SampledFrom([]rune(" \t\r\n")), 1, 3, -1).Draw(t, "space")...)
	}
}

func drawNumberText(t *rapid.T, b *[]byte) {
	if rapid.Bool().Draw(t, "minus") {
		*b = append(*b, '-')
	}
	if rapid.IntRange(0, 3).Draw(t, "zero") == 0 {
		*b = append(*b, '0')
	} else {
		*b = append(*b, byte('1'+rapid.IntRange(0, 8).Draw(t, "lead")))
		*b = append(*b, rapid.StringOfN(rapid.RuneFrom([]rune("0123456789")), 0, 30, -1).Draw(t, "digits")...)
	}
	if rapid.Bool().Draw(t, "frac") {
		*b = append(*b, '.')
		*b = append(*b, rapid.StringOfN(rapid.RuneFrom([]rune("0123456789")), 1, 20, -1).Draw(t, "fracDigits")...)
	}
	if rapid.Bool().Draw(t, "exp") {
		*b = append(*b, rapid.SampledFrom([]string{"e", "E", "e+", "e-", "E+", "E-"}).Draw(t, "e")...)
		*b = append(*b, rapid.StringOfN(rapid.RuneFrom([]rune("0123456789")), 1, 5, -1).Draw(t, "expDigits")...)
	}
}

// drawStringText appends a JSON string of random pieces, each written in one
// of the ways JSON allows, or as raw invalid UTF-8.
func drawStringText(t *rapid.T, b *[]byte, label string) {
	*b = append(*b, '"')
	for range rapid.IntRange(0, 6).Draw(t, label+"Pieces") {
		switch rapid.IntRange(0, 9).Draw(t, label+"Piece") {
		case 0, 1: // plain text
			*b = append(*b, rapid.StringOfN(rapid.RuneFrom([]rune("abc xyz<>&'é€𝄞\u2028\x7f")), 1, 8, -1).Draw(t, label+"Text")...)
		case 2: // any character, escaped when it must be
			r := rapid.Rune().Draw(t, label+"Rune")
			if r < 0x20 || r == '"' || r == '\\' {
				*b = append(*b, `\u00`...)
				*b = append(*b, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&15])
			} else {
				*b = utf8.AppendRune(*b, r)
			}
		case 3: // a short escape
			*b = append(*b, rapid.SampledFrom([]string{`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`}).Draw(t, label+"Escape")...)
		case 4: // a \u escape of a character of the BMP, either case
			*b = appendU(*b, rapid.IntRange(0, 0xffff).Draw(t, label+"BMP"), rapid.Bool().Draw(t, label+"Upper"))
		case 5: // a surrogate pair
			r := rapid.IntRange(0x10000, 0x10ffff).Draw(t, label+"Astral") - 0x10000
			upper := rapid.Bool().Draw(t, label+"Upper")
			*b = appendU(*b, 0xd800+r>>10, upper)
			*b = appendU(*b, 0xdc00+r&0x3ff, upper)
		case 6: // a lone or misordered surrogate
			*b = appendU(*b, rapid.SampledFrom([]int{0xd800, 0xdbff, 0xdc00, 0xdfff}).Draw(t, label+"Lone"), false)
		case 7: // raw bytes of invalid UTF-8 (a surrogate's encoding among them)
			*b = append(*b, rapid.SampledFrom([]string{"\xff", "\xc3", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80", "\x80"}).Draw(t, label+"Invalid")...)
		default: // text that is already U+FFFD, raw or escaped
			*b = append(*b, rapid.SampledFrom([]string{"\uFFFD", `\ufffd`, `\uFFFD`}).Draw(t, label+"FFFD")...)
		}
	}
	*b = append(*b, '"')
}

func appendU(b []byte, r int, upper bool) []byte {
	digits := "0123456789abcdef"
	if upper {
		digits = "0123456789ABCDEF"
	}
	return append(b, '\\', 'u', digits[r>>12&15], digits[r>>8&15], digits[r>>4&15], digits[r&15])
}

// FuzzDecodeMatchesEncodingJSON: Decode accepts exactly what encoding/json
// (Decode with UseNumber, one value) accepts and builds the same values;
// the patch parsers agree with them and with the reference model.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	for _, s := range trickyJSON {
		f.Add([]byte(s))
	}
	f.Add([]byte(deepJSON(10000, false)))
	f.Add([]byte(deepJSON(10001, false)))
	// Not deepJSON(10000, true): a merge patch that deep has 100 MB of
	// member paths (each member's path spells all its parents'), too slow
	// for a fuzz input. TestDecodeDepth checks it.
	f.Add([]byte(deepJSON(200, true)))
	f.Add([]byte(`[{"op":"add","path":"/a","value":` + deepJSON(9999, false) + `}]`))
	addSuiteSeeds(f, func(doc, patch []byte) {
		f.Add(doc)
		f.Add(patch)
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeMatches(t, data)
	})
}

// TestParseAllocations guards the cost of parsing the engine's typical
// edits: through encoding/json they took 29 and 51 allocations.
func TestParseAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop decoders at random")
	}
	for _, c := range []struct {
		text string
		max  float64
	}{
		{benchMergePatch, 7},
		{benchJSONPatch, 7},
	} {
		data := []byte(c.text)
		n := testing.AllocsPerRun(100, func() {
			if _, err := delta.ParsePatch(data); err != nil {
				t.Fatal(err)
			}
		})
		if n > c.max {
			t.Errorf("ParsePatch(%s): %v allocations, want at most %v", c.text, n, c.max)
		}
	}
}
