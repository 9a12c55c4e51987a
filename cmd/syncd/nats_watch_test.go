package main

import (
	"testing"
	"time"
)

// TestProbeTiming: several probes fit in the cut-off, at most one a
// second, and a probe's bound leaves room for another before the cut-off.
func TestProbeTiming(t *testing.T) {
	for _, c := range []struct{ cutoff, every time.Duration }{
		{time.Second, 200 * time.Millisecond},
		{2 * time.Second, 400 * time.Millisecond},
		{DefaultNATSCutoff, time.Second},
		{time.Hour, time.Second},
	} {
		every, timeout := probeTiming(c.cutoff)
		if every != c.every || timeout != 2*every || timeout >= c.cutoff {
			t.Errorf("cutoff %v: probe every %v with timeout %v, want every %v", c.cutoff, every, timeout, c.every)
		}
	}
}
