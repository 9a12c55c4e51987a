package revision_test

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
	"pgregory.net/rapid"

	"github.com/deltasync/syncd/revision"
)

func TestValidateReqID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"req-1", true},
		{"a", true},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", true},
		{"!~", true}, // the ends of the printable range
		{strings.Repeat("x", revision.MaxReqIDLength), true},
		{"", false},
		{strings.Repeat("x", revision.MaxReqIDLength+1), false},
		{"req 1", false},
		{"req\t1", false},
		{"req-1\n", false},
		{"\x00", false},
		{"req\x7f", false},
		{"req-\u00e9", false}, // non-ASCII
	}
	for _, tt := range tests {
		err := revision.ValidateReqID(tt.id)
		if tt.ok && err != nil {
			t.Errorf("ValidateReqID(%q) = %v, want nil", tt.id, err)
		}
		if !tt.ok && !errors.Is(err, revision.ErrInvalidReqID) {
			t.Errorf("ValidateReqID(%q) = %v, want ErrInvalidReqID", tt.id, err)
		}
	}
}

func TestCompareReqIDExamples(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"req-9", "req-10", -1}, // unpadded counters increase
		{"req-10", "req-9", 1},
		{"req-10", "req-10", 0},
		{"req-10", "req-11", -1},
		{"", "a", -1},
		{"z", "aa", -1}, // length first, then bytes
		{"b", "a", 1},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", "01ARZ3NDEKTSV4RRFFQ69G5FAW", -1},
	}
	for _, tt := range tests {
		if got := revision.CompareReqID(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareReqID(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// genReqID draws short ids from a small alphabet, so that equal ids and ids
// of equal length, the cases the order must get right, come up often.
var genReqID = rapid.StringOfN(rapid.SampledFrom([]rune("ab09-Z")), 0, 4, -1)

func TestCompareReqIDLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := genReqID.Draw(t, "a")
		b := genReqID.Draw(t, "b")
		c := genReqID.Draw(t, "c")
		ab, ba := revision.CompareReqID(a, b), revision.CompareReqID(b, a)
		if ab != -1 && ab != 0 && ab != 1 {
			t.Fatalf("CompareReqID(%q, %q) = %d, want -1, 0 or 1", a, b, ab)
		}
		if ab != -ba {
			t.Fatalf("not antisymmetric: CompareReqID(%q, %q) = %d, reversed %d", a, b, ab, ba)
		}
		if (ab == 0) != (a == b) {
			t.Fatalf("CompareReqID(%q, %q) = %d, but equality is %v", a, b, ab, a == b)
		}
		bc, ac := revision.CompareReqID(b, c), revision.CompareReqID(a, c)
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Fatalf("not transitive: %q <= %q <= %q but CompareReqID(a, c) = %d", a, b, c, ac)
		}
		if ab < 0 && bc < 0 && ac >= 0 {
			t.Fatalf("not transitive: %q < %q < %q but CompareReqID(a, c) = %d", a, b, c, ac)
		}
	})
}

// Counters written without padding must order as numbers do.
func TestCompareReqIDCounters(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.Uint64().Draw(t, "n")
		m := rapid.Uint64().Draw(t, "m")
		a, b := fmt.Sprintf("req-%d", n), fmt.Sprintf("req-%d", m)
		if got, want := revision.CompareReqID(a, b), cmp.Compare(n, m); got != want {
			t.Fatalf("CompareReqID(%q, %q) = %d, want %d", a, b, got, want)
		}
	})
}

// ULIDs from a monotonic entropy source, generated in order (often several
// in the same millisecond), must compare increasing: that is the promise a
// client keeping its id across connections relies on.
func TestCompareReqIDMonotonicULIDs(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		seed := rapid.Int64().Draw(t, "entropy seed")
		entropy := ulid.Monotonic(rand.New(rand.NewSource(seed)), 0)
		ms := rapid.Uint64Range(0, ulid.MaxTime()-1000).Draw(t, "start ms")
		n := rapid.IntRange(2, 50).Draw(t, "count")
		prev := ""
		for i := range n {
			// Step 0 keeps the millisecond, so the entropy must increment.
			ms += rapid.Uint64Range(0, 2).Draw(t, fmt.Sprintf("step %d", i))
			id, err := ulid.New(ms, entropy)
			if err != nil {
				t.Fatalf("ulid.New: %v", err)
			}
			s := id.String()
			if prev != "" && revision.CompareReqID(prev, s) != -1 {
				t.Fatalf("monotonic ULIDs out of order: %q then %q", prev, s)
			}
			prev = s
		}
	})
}

func TestWatermarkZeroDecidesNothing(t *testing.T) {
	var w revision.Watermark
	for _, id := range []string{"", "0", "req-1", "01ARZ3NDEKTSV4RRFFQ69G5FAV", strings.Repeat("~", 64)} {
		if w.Decided(id) {
			t.Errorf("zero Watermark decided %q", id)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		id := rapid.String().Draw(t, "id")
		if (revision.Watermark{}).Decided(id) {
			t.Fatalf("zero Watermark decided %q", id)
		}
	})
}

func TestWatermarkExamples(t *testing.T) {
	w := revision.Watermark{}.Advance("req-5")
	if w.ReqID != "req-5" {
		t.Fatalf("zero.Advance(req-5) = %q", w.ReqID)
	}
	for id, want := range map[string]bool{"req-4": true, "req-5": true, "req-6": false, "req-10": false, "req-": true} {
		if got := w.Decided(id); got != want {
			t.Errorf("Watermark{req-5}.Decided(%q) = %v, want %v", id, got, want)
		}
	}
	if got := w.Advance("req-3"); got != w {
		t.Errorf("Advance to an older id moved the watermark to %q", got.ReqID)
	}
	if got := w.Advance("req-10"); got.ReqID != "req-10" {
		t.Errorf("Advance(req-10) = %q, want req-10", got.ReqID)
	}
}

// Advancing by any sequence of ids never lowers the watermark, leaves every
// id seen so far decided, and lands on the largest id seen.
func TestWatermarkAdvanceNeverGoesDown(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ids := rapid.SliceOfN(genReqID, 1, 20).Draw(t, "ids")
		var w revision.Watermark
		var largest string
		for i, id := range ids {
			next := w.Advance(id)
			if w.ReqID != "" && revision.CompareReqID(next.ReqID, w.ReqID) < 0 {
				t.Fatalf("Advance(%q) lowered the watermark from %q to %q", id, w.ReqID, next.ReqID)
			}
			w = next
			if i == 0 || revision.CompareReqID(id, largest) > 0 {
				largest = id
			}
			if w.ReqID != largest {
				t.Fatalf("after %q, watermark %q, want the largest id %q", ids[:i+1], w.ReqID, largest)
			}
			for _, seen := range ids[:i+1] {
				// The empty id is not a valid request id, and the zero
				// watermark it leaves decides nothing; skip it.
				if seen != "" && !w.Decided(seen) {
					t.Fatalf("watermark %q does not decide %q, seen before", w.ReqID, seen)
				}
			}
		}
	})
}
