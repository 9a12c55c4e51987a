package server

import (
	"sync/atomic"
	"testing"
)

// The rate ring holds the per-second differences of the counters, oldest
// first, and at most seriesLen of them.
func TestRateSeriesRing(t *testing.T) {
	var c, d atomic.Uint64
	rs := newRateSeries(func() (uint64, uint64) { return c.Load(), d.Load() })
	rs.lastC, rs.lastD = 0, 0
	for i := 1; i <= seriesLen+5; i++ {
		c.Add(uint64(i))
		d.Add(2 * uint64(i))
		rs.sample()
	}
	commits, deliveries := rs.snapshot()
	if len(commits) != seriesLen || len(deliveries) != seriesLen {
		t.Fatalf("%d and %d samples, want %d", len(commits), len(deliveries), seriesLen)
	}
	if commits[0] != 6 || commits[seriesLen-1] != seriesLen+5 || deliveries[seriesLen-1] != 2*(seriesLen+5) {
		t.Fatalf("samples %v … %v", commits[:3], commits[seriesLen-3:])
	}
	// start and close run and stop the sampling goroutine (goleak checks).
	rs.start()
	rs.close()
	rs.close()
}
