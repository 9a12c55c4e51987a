package boltstore

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/deltasync/syncd/revision"
)

// FuzzDecodeOutcomes: any input decodes to a list that re-encodes to
// itself, or fails with errCorrupt; never a panic.
func FuzzDecodeOutcomes(f *testing.F) {
	f.Add(encodeOutcomes([]revision.Outcome{{ReqID: "r1", Rev: 7}, {ReqID: "r2", Code: "conflict"}}))
	f.Add(encodeOutcomes(nil))
	f.Add([]byte{encodingV1, 2, 2, 'r', '1', 0x80})
	f.Add([]byte{encodingV1, 0xff, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, data []byte) {
		outs, err := decodeOutcomes(data)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not wrap errCorrupt", err)
			}
			return
		}
		again, err := decodeOutcomes(encodeOutcomes(outs))
		if err != nil || !slices.Equal(again, outs) {
			t.Fatalf("re-encoding %+v gives %+v, %v", outs, again, err)
		}
	})
}

// TestDecodeOutcomesKeepsNewest: a stored list longer than MaxOutcomes (a
// build that kept more) reads as its newest MaxOutcomes.
func TestDecodeOutcomesKeepsNewest(t *testing.T) {
	var long []revision.Outcome
	for i := range revision.MaxOutcomes + 3 {
		long = append(long, revision.Outcome{ReqID: string(rune('A' + i)), Rev: revision.Rev(i + 1)})
	}
	got, err := decodeOutcomes(encodeOutcomes(long))
	if err != nil || !slices.Equal(got, long[3:]) {
		t.Fatalf("got %d outcomes, %v; want the newest %d", len(got), err, revision.MaxOutcomes)
	}
}

// outcomeList.add keeps what revision.AddOutcome keeps, from an empty list
// and from a full one decoded from the file, through several rounds of
// its room behind the end.
func TestOutcomeListAddKeepsTheNewest(t *testing.T) {
	full := make([]revision.Outcome, revision.MaxOutcomes)
	for i := range full {
		full[i] = revision.Outcome{ReqID: fmt.Sprintf("old-%03d", i), Rev: revision.Rev(i + 1)}
	}
	for _, start := range [][]revision.Outcome{nil, full} {
		l := outcomeList{outs: slices.Clone(start)}
		want := slices.Clone(start)
		for i := range 5 * revision.MaxOutcomes {
			o := revision.Outcome{ReqID: fmt.Sprintf("new-%03d", i), Rev: revision.Rev(1000 + i)}
			l.add(o)
			want = revision.AddOutcome(slices.Clip(want), o)
			if !slices.Equal(l.outs, want) {
				t.Fatalf("after %d outcomes from %d: %v, want %v", i+1, len(start), l.outs, want)
			}
		}
	}
}
