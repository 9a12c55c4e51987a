package server

import "testing"

// The burst of each rate limit defaults to two seconds of its rate, in the
// server's own defaults (not only in cmd/syncd), and never to nothing.
func TestBurstDefaults(t *testing.T) {
	for _, c := range []struct {
		l                  Limits
		burst, updateBurst int
	}{
		{Limits{}, 400, 200},
		{Limits{MessagesPerSecond: 50, UpdatesPerSecond: 10}, 100, 20},
		{Limits{MessagesPerSecond: 0.2, UpdatesPerSecond: 0.5}, 1, 1},
		{Limits{MessagesPerSecond: 50, Burst: 7, UpdatesPerSecond: 10, UpdateBurst: 3}, 7, 3},
	} {
		got := Options{Limits: c.l}.withDefaults().Limits
		if got.Burst != c.burst || got.UpdateBurst != c.updateBurst {
			t.Errorf("%+v: bursts %d and %d, want %d and %d", c.l, got.Burst, got.UpdateBurst, c.burst, c.updateBurst)
		}
	}
}
