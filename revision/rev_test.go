package revision_test

import (
	"math"
	"testing"

	"github.com/deltasync/syncd/revision"
)

func TestRevRoundTrip(t *testing.T) {
	for _, r := range []revision.Rev{0, 1, 9, 10, math.MaxUint64} {
		got, err := revision.ParseRev(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRev(%q) = %d, %v; want %d", r.String(), got, err, r)
		}
	}
	for _, s := range []string{"", "-1", "+1", "1.0", "0x10", "1_000", " 1", "18446744073709551616"} {
		if r, err := revision.ParseRev(s); err == nil {
			t.Errorf("ParseRev(%q) = %d, want an error", s, r)
		}
	}
	if got := revision.Rev(7).Next(); got != 8 {
		t.Errorf("Rev(7).Next() = %d", got)
	}
}

func TestPosition(t *testing.T) {
	const e1, e2 = revision.Epoch("01ARZ3NDEKTSV4RRFFQ69G5FAV"), revision.Epoch("01ARZ3NDEKTSV4RRFFQ69G5FAW")
	var zero revision.Position
	p := revision.Position{Epoch: e1, Rev: 7}
	if zero.Known() || !p.Known() {
		t.Errorf("Known: zero %v, p %v; want false, true", zero.Known(), p.Known())
	}
	if !p.SameHistory(revision.Position{Epoch: e1, Rev: 2}) {
		t.Error("positions of one epoch are not the same history")
	}
	if p.SameHistory(revision.Position{Epoch: e2, Rev: 7}) {
		t.Error("positions of different epochs are the same history")
	}
	// Two clients that know nothing share no history to compare revisions in.
	if zero.SameHistory(zero) {
		t.Error("zero positions are the same history")
	}
	if got := p.String(); got != "01ARZ3NDEKTSV4RRFFQ69G5FAV@7" {
		t.Errorf("String() = %q", got)
	}
}
