package server

import (
	"fmt"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestClientOwnersBind(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	o := newClientOwners(time.Hour, clock.now)
	if !o.claim("c1", "alice") {
		t.Fatal("a free id was refused")
	}
	o.opened("c1")
	if o.claim("c1", "bob") {
		t.Fatal("bob took alice's id while she is connected")
	}
	if !o.claim("c1", "alice") {
		t.Fatal("alice was refused her own id")
	}
	o.closed("c1")
	clock.t = clock.t.Add(59 * time.Minute)
	if o.claim("c1", "bob") {
		t.Fatal("bob took alice's id within the grace period")
	}
	clock.t = clock.t.Add(2 * time.Minute)
	if !o.claim("c1", "bob") {
		t.Fatal("the id is still bound after the grace period")
	}
	if o.claim("c1", "alice") {
		t.Fatal("alice took the id back from bob")
	}
}

// TestClientOwnersLiveNeverExpire: a connection open for longer than the
// grace period keeps its id.
func TestClientOwnersLiveNeverExpire(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	o := newClientOwners(time.Hour, clock.now)
	o.claim("c1", "alice")
	o.opened("c1")
	o.opened("c1") // a second connection, replacing the first
	o.closed("c1")
	clock.t = clock.t.Add(48 * time.Hour)
	for i := range 3 * minSweep { // sweeps run meanwhile
		o.claim(fmt.Sprint("x", i), "mallory")
	}
	if o.claim("c1", "bob") {
		t.Fatal("a connected id expired")
	}
}

// TestClientOwnersBounded: ids that come and go do not accumulate.
func TestClientOwnersBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	o := newClientOwners(time.Minute, clock.now)
	for i := range 100_000 {
		id := fmt.Sprint("c", i)
		o.claim(id, "u")
		o.opened(id)
		o.closed(id)
		clock.t = clock.t.Add(time.Second)
	}
	// At most a minute's worth (60) are unexpired; the rest wait for a
	// sweep, which runs before the map doubles.
	if n := o.size(); n > 2*minSweep {
		t.Fatalf("%d bindings held for 60 live ones", n)
	}
}
