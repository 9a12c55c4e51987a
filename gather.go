package syncd

import "time"

// gatherer lets a group commit span the clients' round trip.
//
// With one Store.Commit at a time, a batch holds what was queued when the
// last one ended. Clients that send their next edit when the last one is
// acknowledged (a closed loop: an editor that sends its outbox, a game
// loop, a load generator) then split into cohorts: the first edit to
// arrive after a commit starts the next one at once, and the others whose
// edits were acknowledged with it arrive during that commit and wait for
// the whole of it before their own. Measured with 10 such writers on
// bbolt (BENCHMARKS.md, issue 14's fifth round), batches held anything
// from 1 to 10 edits, evenly spread, and the disk was idle half the time.
//
// So before it takes a batch, the committer waits for the clients it
// expects back soon: those acknowledged since they last queued an edit
// whose last turn-around (acknowledgement to next edit) was short, at
// most four commits. It waits at most about one commit (Options.
// GroupCommitWait): an edit that misses a batch waits longer, for the
// rest of that commit and then its own. Clients slower than that, like
// people typing, are never waited for, and a lone writer never waits.
//
// On a shared store a commit is a replicated append (on a cluster, a
// quorum's syncs and the round trips between them), and every append is
// one message to every subscriber on every instance that follows the
// document. A writer that keeps a window of edits in flight splits it in
// two appends as soon as one of its echoes comes back during an append,
// and stays split: each half's echo comes back while the other half is
// being appended. Measured with one writer and 1,000 subscribers on a
// three-node cluster sharing one core (BENCHMARKS.md, "fanout on a
// cluster: the committer waits for the writer"), appends averaged 11 ms,
// and with the wait capped at 8 ms the writer was expected back before 20
// commits of 114 only (its turn-around was longer), so the wait there is
// allowed up to gatherSharedMaxWait, still about one commit.
//
// The commit queue's lock guards it; the committer alone keeps the
// average and the timer.
type gatherer struct {
	// fixed is Options.GroupCommitWait when set; else the wait follows
	// avg, the moving average of Store.Commit's duration, up to maxWait.
	fixed   time.Duration
	avg     time.Duration
	maxWait time.Duration

	// Guarded by the queue's lock. Clients live in two generations, so
	// that forgetting those gone quiet costs no scan: every gatherForget
	// the older one is dropped and the current one becomes it.
	clients, older map[string]*gatherClient
	rotateAt       time.Time
	// waiting are the clients expected now (some may have come since:
	// their expected is false); expected counts the rest, and none is
	// expected after expectUntil.
	waiting     []*gatherClient
	expected    int
	expectUntil time.Time

	timer *time.Timer
}

type gatherClient struct {
	ackedAt    time.Time     // its last acknowledgement; zero once it queued again
	turnaround time.Duration // acknowledgement to next edit, last measured
	expected   bool
}

const (
	gatherMinWait = 50 * time.Microsecond
	gatherMaxWait = 2 * time.Millisecond
	// gatherSharedMaxWait is gatherMaxWait on a shared store, whose
	// commits take longer (see gatherer).
	gatherSharedMaxWait = 20 * time.Millisecond
	// gatherExpectCommits is how many commits long a turn-around may be
	// for its client to be expected back.
	gatherExpectCommits = 4
	gatherForget        = 10 * time.Second
)

// newGatherer returns a gatherer that waits fixed (when positive) or
// about one commit, at most maxWait.
func newGatherer(fixed, maxWait time.Duration) *gatherer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &gatherer{fixed: fixed, maxWait: maxWait, clients: make(map[string]*gatherClient), timer: t}
}

// wait is the longest the committer waits for expected clients.
func (g *gatherer) wait() time.Duration {
	if g.fixed > 0 {
		return g.fixed
	}
	return min(max(g.avg, gatherMinWait), g.maxWait)
}

// observe folds one Store.Commit's duration into the average.
func (g *gatherer) observe(d time.Duration) {
	if g.avg == 0 {
		g.avg = d
		return
	}
	g.avg += (d - g.avg) / 8
}

// clientLocked finds client, moving it out of the older generation, or
// adds it.
func (g *gatherer) clientLocked(client string) *gatherClient {
	if c := g.clients[client]; c != nil {
		return c
	}
	c := g.older[client]
	if c != nil {
		delete(g.older, client)
	} else {
		c = &gatherClient{}
	}
	g.clients[client] = c
	return c
}

// queuedLocked records that client queued an edit at now.
func (g *gatherer) queuedLocked(client string, now time.Time) {
	c := g.clientLocked(client)
	if !c.ackedAt.IsZero() {
		c.turnaround = now.Sub(c.ackedAt)
		c.ackedAt = time.Time{}
	}
	if c.expected {
		c.expected = false
		g.expected--
		if g.expected == 0 {
			clear(g.waiting)
			g.waiting = g.waiting[:0]
		}
	}
}

// acknowledgedLocked records that client's edits were acknowledged at
// now, and expects it back if it came back quickly last time.
func (g *gatherer) acknowledgedLocked(client string, now time.Time) {
	c := g.clientLocked(client)
	c.ackedAt = now
	within := g.expectWithin()
	if !c.expected && c.turnaround > 0 && c.turnaround <= within {
		c.expected = true
		g.expected++
		g.waiting = append(g.waiting, c)
		g.expectUntil = now.Add(within)
	}
}

// expectWithin is how soon after its acknowledgement a client must have
// come back last time to be expected back, and how long it is expected.
func (g *gatherer) expectWithin() time.Duration {
	return min(gatherExpectCommits*g.wait(), g.maxWait)
}

// expireLocked stops expecting anyone: they did not come in time. Each
// is expected again only after a quick turn-around.
func (g *gatherer) expireLocked() {
	for _, c := range g.waiting {
		if c.expected {
			c.expected = false
			c.turnaround = 0
		}
	}
	clear(g.waiting)
	g.waiting = g.waiting[:0]
	g.expected = 0
}

// rotateLocked forgets the clients not seen for a generation.
func (g *gatherer) rotateLocked(now time.Time) {
	if now.Before(g.rotateAt) {
		return
	}
	for _, c := range g.older {
		if c.expected {
			c.expected = false
			g.expected--
		}
	}
	g.older, g.clients = g.clients, make(map[string]*gatherClient, len(g.clients))
	g.rotateAt = now.Add(gatherForget)
	if g.expected == 0 {
		clear(g.waiting)
		g.waiting = g.waiting[:0]
	}
}

// noteQueuedLocked runs in push for every pending: an edit (applied or
// refused) counts for its client.
func (q *commitQueue) noteQueuedLocked(p *pending, now time.Time) {
	if q.gather != nil && (p.append != nil || p.decide != nil) && p.edit.ClientID != "" {
		q.gather.queuedLocked(p.edit.ClientID, now)
	}
}

// acknowledged records that batch's edits were acknowledged.
func (q *commitQueue) acknowledged(batch []*pending) {
	if q.gather == nil {
		return
	}
	now := time.Now()
	q.mu.Lock()
	g := q.gather
	for _, p := range batch {
		if (p.append != nil || p.decide != nil) && p.edit.ClientID != "" {
			g.acknowledgedLocked(p.edit.ClientID, now)
		}
	}
	g.rotateLocked(now)
	q.mu.Unlock()
}

// gatherOutcome says how a wait for expected clients ended.
type gatherOutcome int

const (
	gatherNone     gatherOutcome = iota // nobody was expected
	gatherComplete                      // every expected client came
	gatherTimeout                       // the wait ran out
	gatherClosed                        // the queue closed
)

// hold waits, with work queued, until no client is expected or the wait
// is over. The committer calls it before take. Only writes are held: with
// nothing but follows queued (on a shared store, the watch telling of the
// last commit), there is nothing for the expected clients to join, and the
// follows go first.
func (q *commitQueue) hold() gatherOutcome {
	g := q.gather
	if g == nil {
		return gatherNone
	}
	now := time.Now()
	q.mu.Lock()
	if g.expected > 0 && !now.Before(g.expectUntil) {
		g.expireLocked() // acknowledged too long ago: not coming soon
	}
	n, until, writes := g.expected, g.expectUntil, q.writes
	q.mu.Unlock()
	if n == 0 || writes == 0 {
		return gatherNone
	}
	g.timer.Reset(min(g.wait(), until.Sub(now)))
	for {
		select {
		case <-q.wake:
		case <-g.timer.C:
			q.mu.Lock()
			g.expireLocked()
			q.mu.Unlock()
			return gatherTimeout
		case <-q.closed:
			g.timer.Stop()
			return gatherClosed
		}
		if q.expected() == 0 {
			g.timer.Stop()
			return gatherComplete
		}
	}
}

func (q *commitQueue) expected() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.gather.expected
}
