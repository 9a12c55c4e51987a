package main

import (
	"math/bits"
	"sort"
	"time"
)

// hist is a log-linear latency histogram in nanoseconds: 64 linear
// sub-buckets per power of two, so a quantile is within ~1.6% of the true
// value. Why not keep every sample: 1,000 subscribers at several hundred
// thousand deliveries per second would hold millions of samples per run.
// Each subscriber owns one (no sharing on the hot path); they are merged
// at the end.
type hist struct {
	counts [64 * 64]uint64
	n      uint64
	max    int64
}

const subBits = 6

func bucketOf(v int64) int {
	if v < 1<<subBits {
		if v < 0 {
			v = 0
		}
		return int(v)
	}
	e := bits.Len64(uint64(v)) - subBits // ≥ 1
	return e<<subBits | int(uint64(v)>>uint(e-1))&(1<<subBits-1)
}

// lowOf is the smallest value of bucket i, the inverse of bucketOf.
func lowOf(i int) int64 {
	e := i >> subBits
	if e == 0 {
		return int64(i)
	}
	return int64(1<<subBits|i&(1<<subBits-1)) << uint(e-1)
}

func (h *hist) add(v int64) {
	i := bucketOf(v)
	if i >= len(h.counts) {
		i = len(h.counts) - 1
	}
	h.counts[i]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the value below which a fraction q of samples fall.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if rank >= h.n {
		rank = h.n - 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen > rank {
			return time.Duration(min(lowOf(i), h.max))
		}
	}
	return time.Duration(h.max)
}

// median of a list of measurements (the runs of one configuration).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
