package server_test

import "testing"

// TestProcServes checks the child-process harness the attack tests use.
func TestProcServes(t *testing.T) {
	p := startSyncd(t, "-store", "memory")
	requireServes(t, p, dialOpts{})
	p.RequireRSSBelow(200 << 20)
}
