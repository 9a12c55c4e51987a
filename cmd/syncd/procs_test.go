package main

import (
	"runtime"
	"testing"
)

// TestEnsureProcsForSyncs: one P becomes two with a durable store, and
// nothing changes with the memory store, with GOMAXPROCS in the
// environment, or with more than one P already.
func TestEnsureProcsForSyncs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	noEnv := func(string) string { return "" }
	withEnv := func(k string) string {
		if k == "GOMAXPROCS" {
			return "1"
		}
		return ""
	}
	for _, tc := range []struct {
		name   string
		store  string
		getenv func(string) string
		start  int
		want   int
	}{
		{"bolt, one P", "bolt", noEnv, 1, 2},
		{"memory, one P", "memory", noEnv, 1, 1},
		{"bolt, GOMAXPROCS set", "bolt", withEnv, 1, 1},
		{"bolt, three Ps", "bolt", noEnv, 3, 3},
	} {
		runtime.GOMAXPROCS(tc.start)
		ensureProcsForSyncs(tc.store, tc.getenv)
		if got := runtime.GOMAXPROCS(0); got != tc.want {
			t.Errorf("%s: GOMAXPROCS %d, want %d", tc.name, got, tc.want)
		}
	}
}
