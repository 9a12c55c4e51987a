package jsonkit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// encodingJSONString is how encoding/json writes s, HTML left alone: the
// escaping AppendString must match byte for byte.
func encodingJSONString(t testing.TB, s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// TestPlainEnd: PlainEnd and PlainEndString stop at the first byte that is
// not plain, at every alignment, or at the end.
func TestPlainEnd(t *testing.T) {
	for n := range 40 {
		for stop := range n + 1 {
			for _, c := range []byte{'"', '\\', 0x1f, 0x80, 0xff, 0} {
				data := bytes.Repeat([]byte{'x'}, n)
				want := n
				if stop < n {
					data[stop], want = c, stop
				}
				for from := 0; from <= min(stop, n); from++ {
					if got := PlainEnd(data, from); got != want {
						t.Fatalf("PlainEnd(%q, %d) = %d, want %d", data, from, got, want)
					}
					if got := PlainEndString(string(data), from); got != want {
						t.Fatalf("PlainEndString(%q, %d) = %d, want %d", data, from, got, want)
					}
				}
			}
		}
	}
}

// TestAppendStringMatchesEncodingJSON: the same bytes as encoding/json, and
// StringSize their length, for strings with every kind of byte at every
// position of a word (\b and \f included: both packages once escaped them
// differently).
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	specials := []string{"\"", "\\", "\n", "\b", "\f", "\r", "\t", "\x01", "\x1f", "\x7f", "<&>", "é", "\u2028", "\u2029", "\xff", "\xed\xa0\x80", "€", "😀", "a"}
	check := func(s string) {
		got, want := AppendString(nil, s), encodingJSONString(t, s)
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
		if n := StringSize(s); n != len(got) {
			t.Fatalf("StringSize(%q) = %d, encoded %d", s, n, len(got))
		}
	}
	for n := range 20 {
		for pos := 0; pos <= n; pos++ {
			for _, sp := range specials {
				check(strings.Repeat("x", pos) + sp + strings.Repeat("y", n-pos))
			}
		}
	}
	for c := range 256 {
		check(string([]byte{byte(c)}))
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(256))
			if rng.IntN(3) > 0 {
				b[i] = 'a' + byte(rng.IntN(26))
			}
		}
		check(string(b))
	}
}

// checkUnquote scans data as a string and, if it is one, compares its
// value (AppendUnquoted, or the body itself when the flags say so) with
// encoding/json's, and the strict scan with the lenient one.
func checkUnquote(t *testing.T, data []byte) {
	t.Helper()
	end, flags, f := ScanString(data, 0, true)
	var want string
	jsonErr := json.Unmarshal(data, &want)
	if f.Kind != NoFault || end != len(data) {
		if jsonErr == nil && f.Kind != NoFault {
			t.Fatalf("ScanString(%q): fault %+v, encoding/json accepts it", data, f)
		}
		return
	}
	if jsonErr != nil {
		t.Fatalf("ScanString(%q) accepts it, encoding/json: %v", data, jsonErr)
	}
	body := data[1 : end-1]
	got := string(body)
	if flags != 0 {
		got = string(AppendUnquoted(nil, body))
	}
	if got != want {
		t.Fatalf("value of %q = %q, encoding/json %q (flags %b)", data, got, want, flags)
	}
	// Strict, the same string is refused exactly when it holds invalid
	// UTF-8 or a lone surrogate escape, and otherwise read the same.
	_, sflags, sf := ScanString(data, 0, false)
	refused := flags&InvalidUTF8 != 0 || loneSurrogateIn(body)
	if (sf.Kind != NoFault) != refused || (sf.Kind != NoFault && sf.Kind != FaultBadUTF8 && sf.Kind != FaultLoneSurrogate) || (sf.Kind == NoFault && sflags != flags) {
		t.Fatalf("strict ScanString(%q) = %b, %+v; lenient %b", data, sflags, sf, flags)
	}
}

// loneSurrogateIn reports whether a string body that ScanString accepted
// leniently has a \u escape of a surrogate outside a high-low pair.
func loneSurrogateIn(body []byte) bool {
	for i := 0; i < len(body); {
		if body[i] != '\\' {
			i++
			continue
		}
		if body[i+1] != 'u' {
			i += 2
			continue
		}
		v := refHex(body[i+2 : i+6])
		i += 6
		if v < 0xd800 || v > 0xdfff {
			continue
		}
		if v >= 0xdc00 || i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
			return true
		}
		if lo := refHex(body[i+2 : i+6]); lo < 0xdc00 || lo > 0xdfff {
			return true
		}
		i += 6
	}
	return false
}

func TestUnquoteMatchesEncodingJSON(t *testing.T) {
	for before := range 12 {
		for _, sp := range specials {
			for _, after := range []string{`"`, `abcdefghij"`, `\u0041"`, `\udc00"`, `é"`, "\xff\""} {
				checkUnquote(t, []byte(`"`+strings.Repeat("x", before)+sp+after))
			}
		}
	}
	for _, s := range []string{`"\ud800"`, `"\ud800\u0041"`, `"\ud800\ud800\udc00"`, `"\udc00\ud800"`, `"\uDBFF\uDFFF"`, `"\u0000"`, `"a\/b\bc\fd"`} {
		checkUnquote(t, []byte(s))
	}
}

// FuzzUnquote holds ScanString and AppendUnquoted to encoding/json on any
// input that starts a string:
//
//	go test ./internal/jsonkit/ -run '^$' -fuzz '^FuzzUnquote$' -fuzztime 10s
func FuzzUnquote(f *testing.F) {
	f.Add([]byte(`abc\n\u00e9\ud83d\ude00"`))
	f.Add([]byte("abcdefgh\xff\xfe\\u12\""))
	f.Add([]byte(`\ud800\u0041xxxxxxxxxx"`))
	f.Fuzz(func(t *testing.T, rest []byte) {
		checkUnquote(t, append([]byte{'"'}, rest...))
	})
}

// FuzzAppendString holds AppendString and StringSize to encoding/json:
//
//	go test ./internal/jsonkit/ -run '^$' -fuzz '^FuzzAppendString$' -fuzztime 10s
func FuzzAppendString(f *testing.F) {
	f.Add("plain ascii text, long enough for words")
	f.Add("\b\f\n\r\t\x01\"\\ é \u2028 \xff")
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString(nil, s)
		if want := encodingJSONString(t, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
		if n := StringSize(s); n != len(got) {
			t.Fatalf("StringSize(%q) = %d, encoded %d", s, n, len(got))
		}
	})
}
