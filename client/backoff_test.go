package client

import (
	"testing"
	"time"

	"github.com/deltasync/syncd/protocol"
)

// TestBackoff checks PROTOCOL.md §9.3: full jitter under an exponential
// bound capped at MaxBackoff; a little jitter for "reconnect at once"; at
// least 5s after 4429.
func TestBackoff(t *testing.T) {
	c := &Client{opts: (&Options{}).withDefaults()}
	for attempt := range 40 {
		bound := min(30*time.Second, 500*time.Millisecond<<min(attempt, 20))
		for range 50 {
			d := c.backoff(protocol.ActionReconnectBackoff, 1006, attempt)
			if d < 0 || d > bound {
				t.Fatalf("attempt %d: %v outside [0, %v]", attempt, d, bound)
			}
		}
	}
	for range 50 {
		if d := c.backoff(protocol.ActionReconnect, protocol.CloseSlowConsumer, 9); d > time.Second {
			t.Fatalf("reconnect at once waited %v", d)
		}
		if d := c.backoff(protocol.ActionReconnectBackoff, protocol.CloseFlood, 0); d < 5*time.Second {
			t.Fatalf("after 4429 waited only %v", d)
		}
	}
}

// TestReqIDsIncrease: request ids strictly increase, also within one
// millisecond.
func TestReqIDsIncrease(t *testing.T) {
	c := &Client{}
	c.entropy = newEntropy()
	prev := ""
	for range 10_000 {
		id := c.newReqID()
		if prev != "" && id <= prev {
			t.Fatalf("%s after %s", id, prev)
		}
		prev = id
	}
}
