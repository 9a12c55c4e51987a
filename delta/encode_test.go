package delta_test

import (
	"bytes"
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd/delta"
)

func TestEncodeCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"b":1,"a":[true,false,null],"c":{"z":"<&>","y":1.50}}`, `{"a":[true,false,null],"b":1,"c":{"y":1.50,"z":"<&>"}}`},
		{` [ ] `, `[]`},
		{`{}`, `{}`},
		{`"\u2028\u0001\t\"\\/é"`, `"\u2028\u0001\t\"\\/é"`},
		{`12345678901234567890.000e-5`, `12345678901234567890.000e-5`},
		{`{"b":{},"a":{"d":[],"c":[{}]}}`, `{"a":{"c":[{}],"d":[]},"b":{}}`},
	}
	for _, tt := range tests {
		got := mustEncode(t, mustDecode(t, tt.in))
		if string(got) != tt.want {
			t.Errorf("Encode(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	for _, v := range []any{
		1.5, 3, json.Number("1.e5"), json.Number(""), json.Number("0x1"),
		map[string]any{"a": []any{float32(1)}}, struct{}{},
	} {
		if b, err := delta.Encode(v); err == nil {
			t.Errorf("Encode(%#v) = %s, want error", v, b)
		}
		if n := delta.Size(v); n != -1 {
			t.Errorf("Size(%#v) = %d, want -1", v, n)
		}
	}
	dst := []byte("prefix")
	if out, err := delta.AppendEncode(dst, []any{1.5}); err == nil || string(out) != "prefix" {
		t.Errorf("AppendEncode on error = %q, %v; want the input back and an error", out, err)
	}
}

func TestDecode(t *testing.T) {
	for _, bad := range []string{``, ` `, `{`, `{} {}`, `1 2`, `[]]`, `"a" x`, `{"a":1,}`, `nul`} {
		if v, err := delta.Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) = %#v, want error", bad, v)
		}
	}
	v := mustDecode(t, " {\"n\": 1.0, \"big\": 123456789012345678901234567890}\n")
	m := v.(map[string]any)
	if m["n"] != json.Number("1.0") || m["big"] != json.Number("123456789012345678901234567890") {
		t.Errorf("numbers decoded as %#v", m)
	}
}

func TestEqualNumbers(t *testing.T) {
	equal := [][2]string{
		{"1", "1.0"}, {"1", "1e0"}, {"1", "10e-1"}, {"100", "1E+2"}, {"0", "-0"}, {"0", "0.000e5"},
		{"-0.0", "0e-7"}, {"0.5", "5e-1"}, {"123.4500", "1.2345e2"}, {"1e999999999999999999999", "10e999999999999999999998"},
	}
	unequal := [][2]string{
		{"1", "2"}, {"1", "-1"}, {"12345678901234567890", "12345678901234567891"}, {"1e2", "1e3"},
		{"0.1", "1"}, {"1e999999999999999999999", "1e999999999999999999998"}, {"1", "1.0e1"},
	}
	for _, p := range equal {
		if !delta.Equal(json.Number(p[0]), json.Number(p[1])) || !delta.Equal(json.Number(p[1]), json.Number(p[0])) {
			t.Errorf("%s and %s should be equal", p[0], p[1])
		}
	}
	for _, p := range unequal {
		if delta.Equal(json.Number(p[0]), json.Number(p[1])) || delta.Equal(json.Number(p[1]), json.Number(p[0])) {
			t.Errorf("%s and %s should differ", p[0], p[1])
		}
	}
	if delta.Equal(json.Number("1"), "1") || delta.Equal(nil, false) || delta.Equal([]any{}, map[string]any{}) {
		t.Error("values of different types compare equal")
	}
}

// drawNumber draws the text of a JSON number, with the parts that make equal
// numbers look different: leading zeros of fractions, trailing zeros,
// exponents.
func drawNumber(t *rapid.T) string {
	var b strings.Builder
	if rapid.Bool().Draw(t, "neg") {
		b.WriteByte('-')
	}
	b.WriteString(rapid.SampledFrom([]string{"0", "1", "10", "100", "12", "120", "5"}).Draw(t, "int"))
	if rapid.Bool().Draw(t, "hasFrac") {
		b.WriteByte('.')
		b.WriteString(rapid.SampledFrom([]string{"0", "00", "5", "50", "05", "12", "120"}).Draw(t, "frac"))
	}
	if rapid.Bool().Draw(t, "hasExp") {
		b.WriteString(rapid.SampledFrom([]string{"e", "E", "e+", "e-", "E-"}).Draw(t, "e"))
		b.WriteString(rapid.SampledFrom([]string{"0", "1", "2", "01", "3"}).Draw(t, "exp"))
	}
	return b.String()
}

// TestEqualNumbersProperty compares Equal with exact rational arithmetic.
func TestEqualNumbersProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := drawNumber(t), drawNumber(t)
		x, _ := new(big.Rat).SetString(a)
		y, _ := new(big.Rat).SetString(b)
		if got, want := delta.Equal(json.Number(a), json.Number(b)), x.Cmp(y) == 0; got != want {
			t.Fatalf("Equal(%s, %s) = %v, want %v", a, b, got, want)
		}
	})
}

// TestValueProperties checks the laws of the value functions on random
// values, including strings of invalid UTF-8.
func TestValueProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := anyValueGen.Draw(t, "v")
		enc := mustEncode(t, v)
		if n := delta.Size(v); n != len(enc) {
			t.Fatalf("Size = %d, len(Encode) = %d: %s", n, len(enc), enc)
		}
		// Encode agrees with encoding/json, HTML escaping off.
		var std bytes.Buffer
		e := json.NewEncoder(&std)
		e.SetEscapeHTML(false)
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
		if got, want := enc, bytes.TrimSuffix(std.Bytes(), []byte("\n")); !bytes.Equal(got, want) {
			t.Fatalf("Encode = %s\nencoding/json = %s", got, want)
		}
		// AppendEncode appends the same bytes.
		if app, err := delta.AppendEncode([]byte("x"), v); err != nil || !bytes.Equal(app[1:], enc) {
			t.Fatalf("AppendEncode = %s, %v", app, err)
		}
		c := delta.Clone(v)
		if !reflect.DeepEqual(c, v) || !delta.Equal(c, v) {
			t.Fatalf("Clone differs: %s", mustEncode(t, c))
		}
		back := mustDecode(t, string(enc))
		if !bytes.Equal(mustEncode(t, back), mustEncode(t, mustDecode(t, string(mustEncode(t, back))))) {
			t.Fatalf("Encode(Decode(Encode(v))) is not stable for %s", enc)
		}
	})
}

// TestRoundTrip checks Encode(Decode(Encode(v))) == Encode(v) and equality
// for valid UTF-8 values (invalid bytes become U+FFFD, by design).
func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := valueGen.Draw(t, "v")
		enc := mustEncode(t, v)
		back := mustDecode(t, string(enc))
		if again := mustEncode(t, back); !bytes.Equal(enc, again) {
			t.Fatalf("round trip: %s became %s", enc, again)
		}
		if !delta.Equal(v, back) || !delta.Equal(back, v) {
			t.Fatalf("Equal(v, Decode(Encode(v))) is false for %s", enc)
		}
	})
}

// TestEqualProperty compares Equal with the reference model on pairs drawn
// from few values, so that equal pairs are common.
func TestEqualProperty(t *testing.T) {
	small := rapid.Custom(func(t *rapid.T) any {
		switch rapid.IntRange(0, 3).Draw(t, "k") {
		case 0:
			return json.Number(drawNumber(t))
		case 1:
			return rapid.SampledFrom([]any{nil, true, false, "a", "1"}).Draw(t, "s")
		case 2:
			a := make([]any, rapid.IntRange(0, 2).Draw(t, "n"))
			for i := range a {
				a[i] = json.Number(rapid.SampledFrom([]string{"1", "1.0", "2"}).Draw(t, "e"))
			}
			return a
		default:
			m := map[string]any{}
			for range rapid.IntRange(0, 2).Draw(t, "n") {
				m[rapid.SampledFrom([]string{"a", "b"}).Draw(t, "key")] = json.Number(rapid.SampledFrom([]string{"1", "1e0", "2"}).Draw(t, "e"))
			}
			return m
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		a, b := small.Draw(t, "a"), small.Draw(t, "b")
		got := delta.Equal(a, b)
		if got != delta.Equal(b, a) {
			t.Fatal("Equal is not symmetric")
		}
		if want := modelEqual(a, b); got != want {
			t.Fatalf("Equal(%s, %s) = %v, want %v", mustEncode(t, a), mustEncode(t, b), got, want)
		}
	})
}
