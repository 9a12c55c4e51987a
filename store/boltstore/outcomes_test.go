package boltstore

import (
	"errors"
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
