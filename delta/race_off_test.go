//go:build !race

package delta_test

// raceEnabled tells tests that the race detector is on: sync.Pool then
// drops pooled objects at random, so allocation counts are not stable.
const raceEnabled = false
