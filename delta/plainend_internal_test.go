package delta

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestNotPlain: the word test agrees with the byte table for every byte
// value at every position of a word, and on random words.
func TestNotPlain(t *testing.T) {
	anyNotPlain := func(b []byte) bool {
		for _, c := range b {
			if !plain[c] {
				return true
			}
		}
		return false
	}
	var b [8]byte
	for pos := range 8 {
		for v := range 256 {
			for i := range b {
				b[i] = 'a'
			}
			b[pos] = byte(v)
			if got, want := notPlain(binary.LittleEndian.Uint64(b[:])), !plain[v]; got != want {
				t.Fatalf("byte %#x at %d: notPlain %v, want %v", v, pos, got, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		w := rng.Uint64()
		if rng.IntN(2) == 0 {
			w &= 0x7f7f7f7f7f7f7f7f // ASCII only, the case that matters
		}
		binary.LittleEndian.PutUint64(b[:], w)
		if got, want := notPlain(w), anyNotPlain(b[:]); got != want {
			t.Fatalf("%q: notPlain %v, want %v", b, got, want)
		}
	}
}

// TestPlainEnd: plainEnd stops at the first byte that is not plain, at
// every alignment, or at the end.
func TestPlainEnd(t *testing.T) {
	for n := range 40 {
		for stop := range n + 1 {
			for _, c := range []byte{'"', '\\', 0x1f, 0x80, 0xff, 0} {
				data := make([]byte, n)
				for i := range data {
					data[i] = 'x'
				}
				want := n
				if stop < n {
					data[stop], want = c, stop
				}
				for from := 0; from <= min(stop, n); from++ {
					if got := plainEnd(data, from); got != want {
						t.Fatalf("plainEnd(%q, %d) = %d, want %d", data, from, got, want)
					}
				}
			}
		}
	}
}

// TestStringSize: stringSize is the length appendString writes, for
// strings with every kind of byte at every position of a word.
func TestStringSize(t *testing.T) {
	specials := []string{"\"", "\\", "\n", "\x01", "\x7f", "é", "\u2028", "\xff", "€", "a"}
	for n := range 20 {
		for pos := 0; pos <= n; pos++ {
			for _, sp := range specials {
				s := strings.Repeat("x", pos) + sp + strings.Repeat("y", n-pos)
				if got, want := stringSize(s), len(appendString(nil, s)); got != want {
					t.Fatalf("stringSize(%q) = %d, encoded %d", s, got, want)
				}
			}
		}
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
		if got, want := stringSize(string(b)), len(appendString(nil, string(b))); got != want {
			t.Fatalf("stringSize(%q) = %d, encoded %d", b, got, want)
		}
	}
}
