package syncd

import (
	"math"
	"sync/atomic"
)

// Histogram is a snapshot of a distribution the engine records, in the
// shape Prometheus's histograms take: Counts[i] counts the observations
// at most Bounds[i] (and above Bounds[i-1]); the last count, one more than
// there are bounds, those above every bound. Counts are per bucket, not
// cumulative.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// histogram records observations with atomic adds only, so that recording
// never takes a lock; its bounds are fixed when it is made. The engine
// keeps a few of them for the cluster's metrics without depending on a
// metrics library (the server turns them into Prometheus histograms).
type histogram struct {
	bounds []float64
	counts []atomic.Uint64
	// sumBits is the float64 sum's bits, added by compare-and-swap.
	sumBits atomic.Uint64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// exponentialBounds returns n bounds from start, each factor times the
// one before.
func exponentialBounds(start, factor float64, n int) []float64 {
	b := make([]float64, n)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}

func (h *histogram) observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// snapshot copies h. Its counts are read one by one, so a snapshot taken
// while observations go on may be off by the few that land meanwhile (the
// sum most of all, which is read first).
func (h *histogram) snapshot() Histogram {
	out := Histogram{
		Bounds: h.bounds,
		Counts: make([]uint64, len(h.counts)),
		Sum:    math.Float64frombits(h.sumBits.Load()),
	}
	for i := range h.counts {
		out.Counts[i] = h.counts[i].Load()
		out.Count += out.Counts[i] // the count the buckets add up to, read once
	}
	return out
}
