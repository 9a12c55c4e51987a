package syncd

import "testing"

// An observation lands in the first bucket whose bound is at least it;
// one above every bound lands in the last count.
func TestHistogramBuckets(t *testing.T) {
	h := newHistogram([]float64{1, 2, 4})
	for _, v := range []float64{0, 1, 1.5, 2, 3, 4, 5, 100} {
		h.observe(v)
	}
	s := h.snapshot()
	want := []uint64{2, 2, 2, 2}
	for i := range want {
		if s.Counts[i] != want[i] {
			t.Fatalf("counts %v, want %v", s.Counts, want)
		}
	}
	if s.Count != 8 || s.Sum != 116.5 {
		t.Fatalf("count %d, sum %v; want 8, 116.5", s.Count, s.Sum)
	}
	if b := exponentialBounds(0.5, 2, 4); b[0] != 0.5 || b[3] != 4 {
		t.Fatalf("exponential bounds %v", b)
	}
}
