package syncd

import (
	"testing"
	"time"
)

// The expected count stays true to the clients through every path: an
// acknowledgement, the client's next edit, a wait that ran out, and the
// generations that forget quiet clients.
func TestGathererBookkeeping(t *testing.T) {
	g := newGatherer(time.Millisecond, gatherMaxWait) // expected if back within 2 ms
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	check := func(step string, want int) {
		t.Helper()
		if g.expected != want {
			t.Fatalf("%s: %d clients expected, want %d", step, g.expected, want)
		}
		n := 0
		for _, c := range g.waiting {
			if c.expected {
				n++
			}
		}
		if n != want {
			t.Fatalf("%s: %d of the waiting list expected, want %d", step, n, want)
		}
	}

	// First contact: no turn-around measured, nobody expected.
	g.queuedLocked("a", at(0))
	g.queuedLocked("b", at(0))
	g.acknowledgedLocked("a", at(time.Millisecond))
	g.acknowledgedLocked("b", at(time.Millisecond))
	check("first acknowledgements", 0)

	// a comes back in 0.2 ms, b in 5 ms: only a is expected next time.
	g.queuedLocked("a", at(1200*time.Microsecond))
	g.queuedLocked("b", at(6*time.Millisecond))
	g.acknowledgedLocked("a", at(7*time.Millisecond))
	g.acknowledgedLocked("a", at(7*time.Millisecond)) // two edits in one batch
	g.acknowledgedLocked("b", at(7*time.Millisecond))
	check("a quick, b slow", 1)
	if want := at(9 * time.Millisecond); !g.expectUntil.Equal(want) {
		t.Fatalf("expected until %v, want %v", g.expectUntil, want)
	}

	// a comes: nobody is missing.
	g.queuedLocked("a", at(7100*time.Microsecond))
	check("a came", 0)
	if len(g.waiting) != 0 {
		t.Fatalf("waiting list kept %d entries", len(g.waiting))
	}

	// Expected again, and it does not come: the wait runs out, and a is
	// not expected again until it has come back quickly once more.
	g.acknowledgedLocked("a", at(8*time.Millisecond))
	check("a expected again", 1)
	g.expireLocked()
	check("expired", 0)
	g.queuedLocked("a", at(30*time.Millisecond)) // late: 22 ms
	g.acknowledgedLocked("a", at(31*time.Millisecond))
	check("a late", 0)
	g.queuedLocked("a", at(31100*time.Microsecond))
	g.acknowledgedLocked("a", at(32*time.Millisecond))
	check("a quick again", 1)

	// Generations: a rotation keeps a (moved back on its next use) and
	// the second one forgets b, who has not been seen since.
	g.rotateLocked(at(33 * time.Millisecond))
	check("first rotation", 1)
	if g.older["a"] == nil || g.clients["a"] != nil {
		t.Fatal("the rotation did not move a to the older generation")
	}
	g.queuedLocked("a", at(33100*time.Microsecond))
	check("a came after the rotation", 0)
	if g.clients["a"] == nil || g.older["a"] != nil {
		t.Fatal("a was not moved back to the current generation")
	}
	g.rotateLocked(at(33 * time.Millisecond).Add(gatherForget / 2))
	if g.clients["a"] == nil {
		t.Fatal("rotated before its time: a left the current generation")
	}
	g.rotateLocked(at(34 * time.Millisecond).Add(gatherForget))
	g.rotateLocked(at(35 * time.Millisecond).Add(2 * gatherForget))
	if len(g.clients)+len(g.older) != 0 {
		t.Fatalf("quiet clients not forgotten: %d current, %d older", len(g.clients), len(g.older))
	}

	// An expected client forgotten by a rotation is no longer counted.
	g.queuedLocked("c", at(3*gatherForget))
	g.acknowledgedLocked("c", at(3*gatherForget+time.Millisecond))
	g.queuedLocked("c", at(3*gatherForget+1100*time.Microsecond))
	g.acknowledgedLocked("c", at(3*gatherForget+2*time.Millisecond))
	check("c expected", 1)
	g.rotateLocked(at(4*gatherForget + time.Second))
	g.rotateLocked(at(5*gatherForget + 2*time.Second))
	check("c forgotten", 0)
}

// With only follows queued there is nothing for an expected client to
// join: the committer takes them at once. A write queued waits.
func TestGatherHoldsWritesNotFollows(t *testing.T) {
	q := newCommitQueue()
	q.gather = newGatherer(time.Millisecond, gatherMaxWait)
	expect := func() {
		q.mu.Lock()
		now := time.Now()
		q.gather.queuedLocked("w", now.Add(-time.Millisecond))
		q.gather.acknowledgedLocked("w", now.Add(-900*time.Microsecond))
		q.gather.queuedLocked("w", now.Add(-800*time.Microsecond)) // back in 0.1 ms
		q.gather.acknowledgedLocked("w", now)
		q.mu.Unlock()
		if q.expected() != 1 {
			t.Fatal("the quick client is not expected")
		}
	}
	expect()
	d := &document{id: "d"}
	q.push(&pending{doc: d, follow: true})
	if o := q.hold(); o != gatherNone {
		t.Fatalf("held a follow for an expected client: outcome %v", o)
	}
	if batch, _ := q.take(nil); len(batch) != 1 {
		t.Fatalf("took %d, want the follow", len(batch))
	}
	q.push(&pending{doc: d, create: &CreateRecord{Doc: "d"}})
	if o := q.hold(); o != gatherTimeout {
		t.Fatalf("a write with a client expected: outcome %v, want a wait that runs out", o)
	}
}
