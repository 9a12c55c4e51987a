package server

import (
	"fmt"
	"testing"
)

// TestUserCreationsPruned: the per-user buckets do not accumulate: once
// the map reaches its prune size, buckets that have refilled (users who
// created nothing lately) are dropped, and those still in debt are kept.
func TestUserCreationsPruned(t *testing.T) {
	u := newUserCreations(60)
	u.limiter("busy").Allow() // in debt for a second
	for i := range minPrune - 1 {
		u.limiter(fmt.Sprintf("idle-%d", i)) // full buckets
	}
	if n := len(u.users); n != minPrune {
		t.Fatalf("%d users before the prune, want %d", n, minPrune)
	}
	u.limiter("new")
	if _, ok := u.users["busy"]; !ok || len(u.users) != 2 {
		t.Errorf("after the prune: %d users (busy kept: %v), want busy and new", len(u.users), ok)
	}
	if u.pruneAt != minPrune {
		t.Errorf("next prune at %d, want %d", u.pruneAt, minPrune)
	}
	// busy keeps its bucket, and with it the token it spent.
	if tokens := u.limiter("busy").Tokens(); tokens >= 60 {
		t.Errorf("busy's bucket holds %.2f tokens after the prune, want under 60", tokens)
	}
}
