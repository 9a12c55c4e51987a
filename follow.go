package syncd

import (
	"context"
	"errors"

	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/revision"
)

// On a [SharedStore], other writers commit to documents this engine holds.
// The engine learns it two ways, and both end in the committer goroutine,
// which is what keeps one order: every operation reaches a document's
// state, ring and subscribers from there, in revision order, whether this
// engine or another committed it.
//
//   - Following: a loaded document with subscribers is watched
//     (SharedStore.Watch); a change queues a follow for the committer,
//     which applies the operations after its durable revision and
//     delivers them as live deltas. It takes them from what the watch
//     told (followtold.go) when that is everything, and reads them from
//     the store (ReadOps) otherwise.
//   - Fresh reads: before a join, State or ReadOps answers, the caller
//     reads the store's head (SharedStore.Head) and, if its copy is
//     behind, asks for a follow and waits for one that started after it
//     asked (a ticket), so that no client that moved from another engine
//     sees an older revision than it saw there.
//
// A follow that finds this engine's own writes in flight (decided without
// the other writers' operations) turns into a rebase (rebase.go).

// requestFollow queues a follow of d for the committer, unless one is
// queued and not yet started. It never blocks: the store's watch calls it.
func (e *Engine) requestFollow(d *document) {
	if d.followQueued.Swap(true) {
		return
	}
	if !e.queue.push(&pending{doc: d, follow: true}) {
		d.followQueued.Store(false) // closing: nothing will follow
	}
}

// follow catches d up with what other writers stored. Committer goroutine
// only; it reads the store holding no lock, and settles the tickets taken
// before it started.
//
// Whatever the store holds after d's durable revision is other writers':
// the committer is the only one to commit d's records, and has finished
// every batch before it follows. If d has writes of its own in flight,
// they were decided without those operations, and the follow becomes a
// rebase; otherwise deciders wait (stale) while it reads, so that they
// decide against the state the follow brings rather than be undone.
func (e *Engine) follow(d *document) {
	d.mu.Lock()
	if d.gone || d.stale {
		// Gone: its waiters look it up again. Stale: a rebase is under
		// way, which reads the store later and settles the tickets.
		done := e.appliedForwardsLocked(d) // gone: they will not be followed here
		d.mu.Unlock()
		for _, p := range done {
			p.finish()
		}
		return
	}
	ticket := d.followAsked
	// A reader waiting on a ticket wants the store's head, which only a
	// read of the log gives (the watch may lag it).
	readerWaits := d.followAsked > d.followDone
	epoch, durable := d.epoch, d.durable
	inFlight := d.submitted != d.completed
	// Forwarded edits the home applied are finished once d has followed
	// them, after their delivery to d's subscribers (forward.go).
	defer e.finishAppliedForwards(d)
	absent := d.absent
	// Forwarded edits the home applied wait for d to reach their
	// revision: without a watch (d has no subscriber here) nothing tells
	// of it, so the log must be read.
	unwatchedForwards := len(d.fwdApplied) > 0 && !d.watched()
	if !inFlight {
		d.stale = true
	}
	d.mu.Unlock()

	ops, told := d.told.take(epoch, durable)
	var err error
	more := false // the read stopped at maxFollowPages: the log holds more
	if !told || readerWaits || absent || unwatchedForwards {
		ops, more, err = e.readNewOps(e.ctx, d.id, epoch, durable)
	}
	settle := func(err error) {
		d.mu.Lock()
		d.stale = false
		d.followDone = max(d.followDone, ticket)
		d.followErr = err
		d.advanceCompletedLocked(0, 0)
		d.mu.Unlock()
	}
	redo := func() {
		d.mu.Lock()
		d.stale = false
		d.mu.Unlock()
		e.startRedo(d, false) // marks d stale again; the rebase settles
	}
	switch {
	case errors.Is(err, ErrNotFound) && (inFlight || absent && !e.existsElsewhere(d)):
		// Our own creation (or deletion) is not durable yet, or d is
		// deleted here and nobody created it again: nothing of another
		// writer's to follow. (Created again by another writer, under
		// an epoch of its own, it is reloaded below.)
		settle(nil)
	case errors.Is(err, ErrNotFound) || errors.Is(err, ErrGone):
		// Deleted or re-created elsewhere, or too far behind: reload.
		redo()
	case err != nil:
		var ee *Error
		if errors.As(err, &ee) && ee.Code == CodeInternal {
			settle(nil)
			e.log.Error("following another writer's operations failed", "doc", d.id, "err", err)
			e.breakDocument(d)
			return
		}
		settle(storeError(d.id, "read", err))
	case len(ops) == 0:
		settle(nil)
	case inFlight:
		redo()
	default:
		d.mu.Lock()
		err = e.applyForeignLocked(d, ops)
		if err != nil {
			d.mu.Unlock()
			settle(nil)
			// The stored operations do not apply to our copy: drop it;
			// the next use loads it afresh.
			e.log.Error("following another writer's operations failed", "doc", d.id, "err", err)
			e.breakDocument(d)
			return
		}
		// Deliver before the follow is settled, and take subsMu before
		// letting go of mu: whoever sees these operations applied, or
		// the follow done, and then takes subsMu (a duplicate's answer,
		// duplicate.go) comes after their delivery.
		e.observeFollow(ops) // counted before anyone sees them delivered
		d.subsMu.Lock()
		d.mu.Unlock()
		deliverOpsLocked(d, epoch, ops)
		d.subsMu.Unlock()
		settle(nil)
		if more {
			// Nothing else may tell of the rest: the writers may have
			// stopped. Read on in another follow.
			d.told.tell(StoredChange{})
			e.requestFollow(d)
		}
	}
}

// existsElsewhere reports whether the shared store holds d, which is
// absent here (deleted, its deletion durable): another writer created it
// again, under an epoch of its own, which a read of d's epoch does not
// find. A store that cannot say counts as no.
func (e *Engine) existsElsewhere(d *document) bool {
	_, _, err := e.shared.Head(e.ctx, d.id)
	return err == nil
}

// observeFollow counts a follow that brought in ops: how far behind the
// document was, and how long each operation took from its writer's
// decision to here. A clock behind the writer's counts as no delay.
func (e *Engine) observeFollow(ops []*Op) {
	s := &e.stats
	s.follows.Add(1)
	s.followOps.Add(uint64(len(ops)))
	s.followLag.observe(float64(len(ops)))
	now := e.opts.Now().UnixMilli()
	for _, op := range ops {
		s.followDelay.observe(float64(max(now-op.Time, 0)) / 1000)
	}
}

// maxFollowPages bounds the pages one follow reads; a writer that keeps
// committing meanwhile triggers the next follow through its watch.
const maxFollowPages = 64

// readNewOps reads the operations of doc after after, in pages, until a
// page comes back short, or maxFollowPages were read (more: the log may
// hold others after them).
func (e *Engine) readNewOps(ctx context.Context, doc string, epoch revision.Epoch, after revision.Rev) (ops []*Op, more bool, err error) {
	for range maxFollowPages {
		page, err := e.store.ReadOps(ctx, doc, epoch, after, e.opts.CatchUpPage)
		if err != nil {
			return nil, false, err
		}
		if len(page) > 0 && page[0].Rev != after+1 {
			return nil, false, &Error{Code: CodeInternal, Message: "store log does not continue where asked", Doc: doc}
		}
		ops = append(ops, page...)
		if len(page) < e.opts.CatchUpPage {
			return ops, false, nil
		}
		after = page[len(page)-1].Rev
	}
	return ops, true, nil
}

// applyForeignLocked applies other writers' operations, the next ones
// after d's head, to d: state, ring and member index, durable revision,
// and the cached watermarks of their clients. d has nothing in flight.
// d.mu must be held.
func (e *Engine) applyForeignLocked(d *document, ops []*Op) error {
	ch := &d.change
	for _, op := range ops {
		if op.Rev != d.head+1 {
			return &Error{Code: CodeInternal, Message: "another writer's operations do not continue the head", Doc: d.id}
		}
		p, err := delta.ParsePatch(op.Payload)
		if err != nil {
			return &Error{Code: CodeInternal, Message: "another writer's operation does not parse", Doc: d.id, Err: err}
		}
		err = p.ApplyTo(&d.state, ch)
		p.Release()
		if err != nil {
			return &Error{Code: CodeInternal, Message: "another writer's operation does not apply", Doc: d.id, Err: err}
		}
		d.size += ch.SizeDelta
		d.head, d.durable = op.Rev, op.Rev
		d.push(op, ch.Paths, d.nsubs.Load() > 0)
		ch.Reset()
		if op.ClientID != "" && op.ClientReqID != "" {
			if w, ok := d.wms[op.ClientID]; ok {
				d.wms[op.ClientID] = w.Advance(op.ClientReqID)
			}
		}
	}
	d.rechargeLocked()
	return nil
}

// maxFreshenRounds bounds how often a reader asks for a follow before it
// answers with what it has: other writers may keep the head moving.
const maxFreshenRounds = 3

// freshen makes sure d holds everything the shared store held when it was
// called (see the comment at the top of this file). It returns at once on
// a store of one writer, and when d is not behind the store's head.
func (e *Engine) freshen(ctx context.Context, d *document) error {
	if e.shared == nil {
		return nil
	}
	for range maxFreshenRounds {
		epoch, head, err := e.shared.Head(ctx, d.id)
		notFound := errors.Is(err, ErrNotFound)
		if err != nil && !notFound {
			return storeError(d.id, "head read", err)
		}
		d.mu.Lock()
		if d.gone || !notFound && !d.stale && !d.absent && d.epoch == epoch && d.durable >= head {
			d.mu.Unlock()
			return nil
		}
		d.followAsked++
		ticket := d.followAsked
		e.requestFollow(d)
		if err := waitLocked(ctx, d, func() bool { return d.followDone < ticket }); err != nil {
			d.mu.Unlock()
			return err
		}
		ferr := d.followErr
		d.mu.Unlock()
		if ferr != nil {
			return ferr
		}
		if notFound {
			return nil // created here and in flight, or deleted: the caller sees which
		}
	}
	return nil
}

// refreshWatermark reads clientID's watermark in d from a shared store,
// keeping the newer of it and the cached one: another writer may have
// decided the client's later requests.
func (e *Engine) refreshWatermark(ctx context.Context, d *document, clientID string) error {
	if e.shared == nil {
		return nil
	}
	w, err := e.store.Watermark(ctx, d.id, clientID)
	if err != nil {
		return storeError(d.id, "watermark read", err)
	}
	d.mu.Lock()
	if revision.CompareReqID(w.ReqID, d.wms[clientID].ReqID) > 0 {
		d.wms[clientID] = w
		d.rechargeLocked() // maybe one more cached watermark
	}
	d.mu.Unlock()
	return nil
}

// watchLocked starts watching d in a shared store, once it has a
// subscriber. d.subsMu must be held.
func (e *Engine) watchLocked(d *document) {
	if e.shared == nil || d.watchStop != nil {
		return
	}
	d.watchStop = e.shared.Watch(d.id, func(c StoredChange) {
		if d.told.tell(c) {
			e.requestFollow(d)
		}
	})
}

// watched reports whether d's store watch runs (it tells the follow what
// was stored).
func (d *document) watched() bool {
	d.subsMu.Lock()
	defer d.subsMu.Unlock()
	return d.watchStop != nil
}

// stopWatch ends d's watch, if any. It takes d.subsMu; the watch's
// callback takes no lock of d's, so waiting for it here is safe.
func stopWatch(d *document) {
	d.subsMu.Lock()
	stop := d.watchStop
	d.watchStop = nil
	d.subsMu.Unlock()
	if stop != nil {
		stop()
	}
}

// stopWatches ends the watches of every loaded document (Close).
func (e *Engine) stopWatches() {
	if e.shared == nil {
		return
	}
	e.mu.Lock()
	docs := e.loadedLocked()
	e.mu.Unlock()
	for _, d := range docs {
		stopWatch(d)
	}
}
