package revision_test

import (
	"errors"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"pgregory.net/rapid"

	"github.com/deltasync/syncd/revision"
)

func TestParseEpochAcceptsRealULIDs(t *testing.T) {
	entropy := ulid.Monotonic(rand.New(rand.NewSource(1)), 0)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		id := ulid.MustNew(ulid.Timestamp(start.Add(time.Duration(i)*time.Hour)), entropy).String()
		for _, in := range []string{id, strings.ToLower(id), mixCase(id)} {
			got, err := revision.ParseEpoch(in)
			if err != nil {
				t.Fatalf("ParseEpoch(%q): %v", in, err)
			}
			if string(got) != id {
				t.Fatalf("ParseEpoch(%q) = %q, want canonical %q", in, got, id)
			}
			if !revision.IsULID(in) {
				t.Fatalf("IsULID(%q) = false", in)
			}
		}
	}
}

// mixCase lower-cases every other letter.
func mixCase(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); i += 2 {
		if b[i] >= 'A' && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

func TestParseEpoch(t *testing.T) {
	const valid = "01ARZ3NDEKTSV4RRFFQ69G5FAV" // the ULID specification's example
	tests := []struct {
		in   string
		want revision.Epoch // "" means rejected
	}{
		{valid, valid},
		{"01arz3ndektsv4rrffq69g5fav", valid},
		{"01ArZ3NdEkTsV4RrFfQ69g5FaV", valid},
		{"00000000000000000000000000", "00000000000000000000000000"},
		{"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"}, // the largest ULID
		{"7zzzzzzzzzzzzzzzzzzzzzzzzz", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"},

		// Wrong length.
		{"", ""},
		{valid[:25], ""},
		{valid + "0", ""},
		{valid + valid, ""},

		// Letters outside Crockford's alphabet, in either case, anywhere.
		{"01ARZ3NDEKTSV4RRFFQ69G5FAI", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAL", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAO", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAU", ""},
		{"i1ARZ3NDEKTSV4RRFFQ69G5FAV", ""},
		{"01ARZ3NDEKTSl4RRFFQ69G5FAV", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAo", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAu", ""},

		// Other bytes: punctuation, space, the bytes either side of the
		// digit and letter ranges, and a multi-byte character that makes
		// the byte length 26.
		{"01ARZ3NDEKTSV4RRFFQ69G5FA-", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA ", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA/", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA:", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA@", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA[", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA`", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA{", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5F\u00e9", ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA\x00", ""},

		// More than 128 bits: the first character may be at most '7'.
		{"81ARZ3NDEKTSV4RRFFQ69G5FAV", ""},
		{"91ARZ3NDEKTSV4RRFFQ69G5FAV", ""},
		{"ZZZZZZZZZZZZZZZZZZZZZZZZZZ", ""},
		{"zZZZZZZZZZZZZZZZZZZZZZZZZZ", ""},
		{"A0000000000000000000000000", ""},
	}
	for _, tt := range tests {
		got, err := revision.ParseEpoch(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParseEpoch(%q) = %q, want an error", tt.in, got)
			} else if !errors.Is(err, revision.ErrInvalidEpoch) {
				t.Errorf("ParseEpoch(%q) error %v does not wrap ErrInvalidEpoch", tt.in, err)
			}
			if got != "" {
				t.Errorf("ParseEpoch(%q) returned %q with its error, want empty", tt.in, got)
			}
		} else if err != nil || got != tt.want {
			t.Errorf("ParseEpoch(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
		if ok := revision.IsULID(tt.in); ok != (tt.want != "") {
			t.Errorf("IsULID(%q) = %v, want %v", tt.in, ok, tt.want != "")
		}
	}
}

// checkAgainstULID checks ParseEpoch against oklog/ulid's strict parser,
// which implements the same specification independently: both must accept
// the same strings, and the canonical form must be the library's String().
func checkAgainstULID(t interface{ Fatalf(string, ...any) }, s string) {
	got, err := revision.ParseEpoch(s)
	id, refErr := ulid.ParseStrict(s)
	switch {
	case (err == nil) != (refErr == nil):
		t.Fatalf("ParseEpoch(%q) error = %v, but ulid.ParseStrict error = %v", s, err, refErr)
	case err == nil && string(got) != id.String():
		t.Fatalf("ParseEpoch(%q) = %q, ulid says %q", s, got, id.String())
	}
}

func TestParseEpochAgreesWithULID(t *testing.T) {
	// Mostly 26 characters from the alphabet plus the letters it excludes
	// and a few others, so that both acceptance and each reason for
	// rejection are common.
	chars := []rune("0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyzILOUiluo8-é")
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.OneOf(rapid.Just(revision.ULIDLength), rapid.IntRange(0, 30)).Draw(t, "length")
		s := rapid.StringOfN(rapid.SampledFrom(chars), n, n, -1).Draw(t, "s")
		checkAgainstULID(t, s)
	})
}

// FuzzParseEpoch checks that ParseEpoch never panics, that whatever it
// accepts comes back canonical (26 upper-case characters that parse to
// themselves and match the input up to case), and that it agrees with
// oklog/ulid's strict parser.
func FuzzParseEpoch(f *testing.F) {
	for _, s := range []string{
		"01ARZ3NDEKTSV4RRFFQ69G5FAV",
		"01arz3ndektsv4rrffq69g5fav",
		"7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
		"81ARZ3NDEKTSV4RRFFQ69G5FAV",
		"01ARZ3NDEKTSV4RRFFQ69G5FAI",
		"01ARZ3NDEKTSV4RRFFQ69G5F\u00e9",
		"",
		"0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := revision.ParseEpoch(s)
		if revision.IsULID(s) != (err == nil) {
			t.Fatalf("IsULID(%q) disagrees with ParseEpoch error %v", s, err)
		}
		checkAgainstULID(t, s)
		if err != nil {
			if !errors.Is(err, revision.ErrInvalidEpoch) {
				t.Fatalf("ParseEpoch(%q) error %v does not wrap ErrInvalidEpoch", s, err)
			}
			return
		}
		e := string(got)
		if len(e) != revision.ULIDLength {
			t.Fatalf("ParseEpoch(%q) = %q, length %d", s, e, len(e))
		}
		if e != strings.ToUpper(e) {
			t.Fatalf("ParseEpoch(%q) = %q, not upper case", s, e)
		}
		if !strings.EqualFold(e, s) {
			t.Fatalf("ParseEpoch(%q) = %q, not the input up to case", s, e)
		}
		again, err := revision.ParseEpoch(e)
		if err != nil || again != got {
			t.Fatalf("ParseEpoch(%q) = %q, %v; want itself", e, again, err)
		}
	})
}
