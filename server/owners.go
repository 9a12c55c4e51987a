package server

import (
	"sync"
	"time"
)

// DefaultOwnerGrace is how long a client id stays bound to its user after
// its last connection closed, unless [Options.OwnerGrace] says otherwise.
const DefaultOwnerGrace = 24 * time.Hour

// clientOwners remembers which user each client id belongs to when JWT
// authentication is on, so that one user cannot take over another's client
// id: a client id carries watermarks, and a user who could present someone
// else's id could make that client's next edits look already decided.
// Client ids are not secret (every operation carries its author's), so the
// binding is what protects them.
//
// It binds an id while a connection uses it and for a grace period after
// the last one closed, and then forgets it: memory grows with the client
// ids in use, not with every id ever seen. The binding lives in memory
// only, so a restart forgets it too; a client that reconnects within the
// grace period keeps its id, which is what the binding is for.
type clientOwners struct {
	grace time.Duration
	now   func() time.Time

	mu sync.Mutex
	m  map[string]*owner
	// sweepAt is the size at which claim next drops expired bindings:
	// twice the size after the last sweep, so sweeping costs O(1) per
	// claim, amortised.
	sweepAt int
}

type owner struct {
	user string
	live int       // open connections with this client id
	seen time.Time // when live last dropped to 0, or the claim
}

// minSweep is the smallest map that is swept.
const minSweep = 1024

func newClientOwners(grace time.Duration, now func() time.Time) *clientOwners {
	if grace <= 0 {
		grace = DefaultOwnerGrace
	}
	if now == nil {
		now = time.Now
	}
	return &clientOwners{grace: grace, now: now, m: make(map[string]*owner), sweepAt: minSweep}
}

// claim binds client to user if it is free, and reports whether user may
// use it.
func (o *clientOwners) claim(client, user string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	if w := o.m[client]; w != nil && !o.expired(w, now) {
		if w.user != user {
			return false
		}
		if w.live == 0 {
			w.seen = now
		}
		return true
	}
	if len(o.m) >= o.sweepAt {
		o.sweep(now)
	}
	o.m[client] = &owner{user: user, seen: now}
	return true
}

// opened and closed count the connections using client. A claim whose
// upgrade then failed never opens; its binding expires like a closed one.
func (o *clientOwners) opened(client string) {
	o.mu.Lock()
	if w := o.m[client]; w != nil {
		w.live++
	}
	o.mu.Unlock()
}

func (o *clientOwners) closed(client string) {
	o.mu.Lock()
	if w := o.m[client]; w != nil && w.live > 0 {
		if w.live--; w.live == 0 {
			w.seen = o.now()
		}
	}
	o.mu.Unlock()
}

func (o *clientOwners) expired(w *owner, now time.Time) bool {
	return w.live == 0 && now.Sub(w.seen) > o.grace
}

func (o *clientOwners) sweep(now time.Time) {
	for client, w := range o.m {
		if o.expired(w, now) {
			delete(o.m, client)
		}
	}
	o.sweepAt = max(minSweep, 2*len(o.m))
}

// size is the number of bindings held, for tests.
func (o *clientOwners) size() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.m)
}
