package syncd

import (
	"slices"
	"sync"
	"time"

	"github.com/deltasync/syncd/revision"
)

// pending is one unit of work for the committer: the records of one
// decision (an operation with perhaps a snapshot, a refusal's watermark, a
// creation or a deletion), what to deliver once they are durable, and how
// to tell the waiting caller.
type pending struct {
	doc *document

	create   *CreateRecord
	append   *AppendRecord
	decide   *DecideRecord
	snapshot *SnapshotRecord
	del      *DeleteRecord
	recreate *CreateRecord // with del: the document lives on under a new epoch

	// app is where append points for an operation: one allocation for
	// both. Stores keep the Op, never the *Append.
	app AppendRecord

	// reset, with del and recreate, is the event subscribers receive once
	// the new epoch is durable.
	reset *Event

	// edit is the edit this pending decides (an append, or a decide that
	// refuses it), kept until the decision is durable or refused: a
	// shared store's conflict decides it again (rebase.go).
	edit parsedEdit
	// refusal, with decide, is what then is told once the refusal is
	// durable.
	refusal *Error
	// gen is the document's gen when p was queued: a pending of an older
	// gen was decided against a state a conflict undid (rebase.go).
	gen uint64
	// follow marks a request to the committer to catch doc up from a
	// shared store (follow.go); it has no records.
	follow bool
	// epochOut, if set, receives the epoch of the operation p commits
	// just before then is told (CommitInEpoch).
	epochOut *revision.Epoch

	// then is told the outcome once the records are durable or failed:
	// the operation of an append, or the error. It may be nil.
	then func(*Op, error)
	// holdDuplicate is set on a client's edit (CommitAsync): a duplicate
	// answer waits for the decisions before it (duplicate.go).
	holdDuplicate *Engine
	err           error // set when the write failed

	// On a pending forwarded to its document's home (forward.go), never
	// in the committer's queue while forwarded: where it stands, the
	// home's reply, and for a decision made here after all, the client's
	// watermark and outcomes read from the store after the reply, and
	// whether the home may have decided it (fwdUnknown).
	fwdState   fwdState
	fwdOut     ForwardOutcome
	fwdWM      revision.Watermark
	fwdOuts    []revision.Outcome
	fwdUnknown bool
	// unknownSince and unknownRetries pace the decisions of an edit of
	// unknown outcome made again (forward_unknown.go).
	unknownSince   time.Time
	unknownRetries int
	unsettled      bool // recorded in Engine.unsettled until answered
	// fwdIn is set on an edit another engine forwarded here (forward.go).
	fwdIn *forwardedIn
}

// finish reports p's outcome.
func (p *pending) finish() {
	if p.then == nil {
		return
	}
	var op *Op
	switch {
	case p.err != nil:
	case p.refusal != nil:
		if p.doc == nil || !p.answerDuplicateLater(p.doc.id, p.refusal) {
			p.then(nil, p.refusal)
		}
		return
	case p.append != nil:
		op = p.append.Op
		if p.epochOut != nil && p.err == nil {
			*p.epochOut = p.append.Epoch
		}
	}
	p.then(op, p.err)
}

func (p *pending) records(dst []Record) []Record {
	if p.create != nil {
		dst = append(dst, Record{Create: p.create})
	}
	if p.del != nil {
		dst = append(dst, Record{Delete: p.del})
	}
	if p.recreate != nil {
		dst = append(dst, Record{Create: p.recreate})
	}
	if p.append != nil {
		dst = append(dst, Record{Append: p.append})
	}
	if p.snapshot != nil {
		dst = append(dst, Record{Snapshot: p.snapshot})
	}
	if p.decide != nil {
		dst = append(dst, Record{Decide: p.decide})
	}
	return dst
}

// commitQueue is the FIFO between documents and the committer. Documents
// push to it while holding their own lock, which is what keeps each
// document's records in revision order; pushing never blocks.
type commitQueue struct {
	mu    sync.Mutex
	items []*pending
	// writes counts the items that are not follows (they have records).
	writes   int
	isClosed bool
	wake     chan struct{} // capacity 1: "there is work"
	closed   chan struct{} // closed by close
	// gather, if not nil, is who the committer waits for before taking a
	// batch (gather.go).
	gather *gatherer
}

func newCommitQueue() *commitQueue {
	return &commitQueue{wake: make(chan struct{}, 1), closed: make(chan struct{})}
}

// push queues p; false if the queue is closed.
func (q *commitQueue) push(p *pending) bool {
	q.mu.Lock()
	if q.isClosed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, p)
	if !p.follow {
		q.writes++
	}
	if q.gather != nil {
		q.noteQueuedLocked(p, time.Now())
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// take waits for work and returns everything queued, swapping in buf as the
// new backing slice. It returns ok=false once the queue is closed and empty.
func (q *commitQueue) take(buf []*pending) (batch []*pending, ok bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			batch, q.items = q.items, buf[:0]
			q.writes = 0
			q.mu.Unlock()
			return batch, true
		}
		if q.isClosed {
			q.mu.Unlock()
			return nil, false
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-q.closed:
		}
	}
}

// waitWork waits until something is queued (true) or the queue is closed
// and empty (false).
func (q *commitQueue) waitWork() bool {
	for {
		q.mu.Lock()
		n, closed := len(q.items), q.isClosed
		q.mu.Unlock()
		if n > 0 {
			return true
		}
		if closed {
			return false
		}
		select {
		case <-q.wake:
		case <-q.closed:
		}
	}
}

// empty reports whether nothing is queued.
func (q *commitQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) == 0
}

func (q *commitQueue) close() {
	q.mu.Lock()
	if !q.isClosed {
		q.isClosed = true
		close(q.closed)
	}
	q.mu.Unlock()
}

// submitLocked queues p for d. d.mu must be held: holding it is what orders
// d's records. If the engine is closing, p fails at once.
func (e *Engine) submitLocked(d *document, p *pending) {
	p.doc, p.gen = d, d.gen
	d.submitted++
	if !e.queue.push(p) {
		p.err = errClosed
		d.advanceCompletedLocked(1, 0)
		p.finish()
	}
}

// commitLoop is the committer goroutine: it takes everything queued, writes
// it to the store in one Commit (one fsync for many edits of many
// documents), then marks it durable, delivers it to subscribers in
// revision order and wakes the callers. While it waits for one fsync, the
// next batch accumulates in the queue.
func (e *Engine) commitLoop() {
	var (
		batch, spare []*pending
		live         []*pending // batch without the pendings that failed early
		recs         []Record
		follows      []*document // shared store: documents to catch up
		ok           bool
	)
	for {
		if e.queue.gather != nil && e.queue.waitWork() {
			e.stats.observeGather(e.queue.hold())
		}
		batch, ok = e.queue.take(spare)
		if !ok {
			return
		}
		recs = recs[:0]
		live = live[:0]
		for _, p := range batch {
			if p.follow {
				follows = append(follows, p.doc)
				continue
			}
			if p.gen != p.doc.gen {
				// A conflict undid the state p was decided against; the
				// rebase decides it again (rebase.go). Only a shared
				// store's conflicts move gen.
				p.doc.redo = append(p.doc.redo, p)
				continue
			}
			if p.doc.broken {
				// A write of this document failed after p was queued: p
				// was decided against a state that never became durable.
				p.err = &Error{Code: CodeUnavailable, Message: "an earlier write of the document failed; retry", Doc: p.doc.id}
				e.finishFailed(p)
				continue
			}
			recs = p.records(recs)
			live = append(live, p)
		}
		if len(recs) > 0 {
			start := time.Now()
			err := e.store.Commit(e.ctx, recs)
			took := time.Since(start)
			if e.queue.gather != nil {
				e.queue.gather.observe(took)
			}
			e.stats.observeCommit(len(recs), took, err)
			if e.opts.ObserveCommit != nil {
				e.opts.ObserveCommit(len(recs), took, err)
			}
			switch {
			case err == nil:
				e.finishBatch(live)
			case e.shared != nil:
				e.sharedCommitFailed(live, err)
			default:
				e.failBatch(live, err)
			}
		}
		if e.shared != nil {
			e.afterBatch(follows)
			clear(follows)
			follows = follows[:0]
		}
		clear(batch)
		clear(live)
		clear(recs)
		spare = batch[:0]
	}
}

// finishFailed completes a pending that never reached the store.
func (e *Engine) finishFailed(p *pending) {
	d := p.doc
	d.mu.Lock()
	d.advanceCompletedLocked(1, 0)
	d.mu.Unlock()
	if e.redecideUnknown(d.id, p) {
		return // its home may have decided it: not "not applied"
	}
	p.finish()
}

// finishBatch runs after a successful Commit: per document, in queue order,
// it advances the durable revision, delivers the operations to subscribers
// (consecutive operations of one document as one event, and a reset after a
// deletion), and then wakes the callers.
func (e *Engine) finishBatch(batch []*pending) {
	// Group the batch by document, in e.runs: its memory is reused from
	// batch to batch, and d.run finds a document's run without a map.
	runs := e.runs[:0]
	for _, p := range batch {
		d := p.doc
		if d.run == 0 {
			if len(runs) < cap(runs) {
				runs = runs[:len(runs)+1]
			} else {
				runs = append(runs, finishRun{})
			}
			r := &runs[len(runs)-1]
			r.d, r.n, r.segs = d, 0, r.segs[:0]
			d.run = len(runs)
		}
		r := &runs[d.run-1]
		r.n++
		if p.append != nil {
			// A new segment after a reset, and after a deletion without
			// one (nobody subscribed then, but a join may have re-created
			// the document since): operations of two epochs never share
			// an event.
			if n := len(r.segs); n == 0 || r.segs[n-1].reset != nil || r.segs[n-1].epoch != p.append.Epoch {
				r.addSegment(p.append.Epoch)
			}
			seg := &r.segs[len(r.segs)-1]
			seg.ops = append(seg.ops, p.append.Op)
		}
		if p.reset != nil {
			if len(r.segs) == 0 || r.segs[len(r.segs)-1].reset != nil {
				r.addSegment("")
			}
			r.segs[len(r.segs)-1].reset = p.reset
		}
	}
	for i := range runs {
		r := &runs[i]
		d := r.d
		d.run = 0
		d.mu.Lock()
		// Only operations of the document's epoch move its durable
		// revision: a deletion reset it to 0 when it was decided
		// (resetLocked), and the old epoch's operations that become
		// durable after that, in this batch or an earlier one, are not
		// the new epoch's. In a segment the operations come before its
		// reset.
		var last revision.Rev
		for _, seg := range r.segs {
			if len(seg.ops) > 0 && seg.epoch == d.epoch {
				last = seg.ops[len(seg.ops)-1].Rev
			}
		}
		d.advanceCompletedLocked(r.n, last)
		// Take subsMu before letting go of mu: whoever sees these writes
		// completed and then takes subsMu (a duplicate's answer,
		// duplicate.go) comes after their delivery.
		d.subsMu.Lock()
		d.mu.Unlock()
		for _, seg := range r.segs {
			deliverOpsLocked(d, seg.epoch, seg.ops)
			if seg.reset != nil {
				for _, s := range d.subs {
					s.deliverResetLocked(seg.reset)
				}
			}
		}
		d.subsMu.Unlock()
	}
	e.stats.commits.Add(uint64(len(batch)))
	// Before the callers are told: a caller in this process may queue its
	// next edit at once, and must find itself expected already, or the
	// committer would wait for an edit that is queued (gather.go).
	e.queue.acknowledged(batch)
	for _, p := range batch {
		if p.append != nil {
			e.stats.ops.Add(1)
		}
		e.notifyCommitted(p)
		p.finish()
	}
	// Keep the memory, not what it pointed to.
	for i := range runs {
		r := &runs[i]
		for j := range r.segs {
			clear(r.segs[j].ops)
			r.segs[j].reset = nil
		}
		r.d = nil
	}
	e.runs = runs[:0]
}

// finishRun is one document's part of a batch, in finishBatch: how many of
// its pendings completed, and its operations.
type finishRun struct {
	d    *document
	n    uint64
	segs []segment
}

// segment is a run of one document's operations of one epoch, and the
// reset that ends it, if a deletion did.
type segment struct {
	epoch revision.Epoch
	ops   []*Op
	reset *Event
}

// addSegment starts a segment of epoch in r, reusing the memory of an
// earlier batch's segment.
func (r *finishRun) addSegment(epoch revision.Epoch) {
	if len(r.segs) < cap(r.segs) {
		r.segs = r.segs[:len(r.segs)+1]
	} else {
		r.segs = append(r.segs, segment{})
	}
	seg := &r.segs[len(r.segs)-1]
	seg.epoch, seg.ops, seg.reset = epoch, seg.ops[:0], nil
}

// deliverOpsLocked sends ops (consecutive, of one epoch) to every
// subscriber of d as one shared event, which gets its own copy of ops (the
// caller reuses them). d.subsMu must be held.
func deliverOpsLocked(d *document, epoch revision.Epoch, ops []*Op) {
	if len(ops) == 0 || len(d.subs) == 0 {
		return
	}
	ev := &Event{
		Kind:    EventDeltas,
		Doc:     d.id,
		Epoch:   epoch,
		FromRev: ops[0].Rev - 1,
		ToRev:   ops[len(ops)-1].Rev,
		Ops:     slices.Clone(ops),
		Live:    true,
	}
	authors, few := authorsOf(ops)
	if !few || authors.n == 0 {
		for _, s := range d.subs {
			s.deliverLiveLocked(ev)
		}
		return
	}
	// Authors first: the echo of an edit is its acknowledgement, on which
	// a client sends its next one; queued behind the writes to every
	// other subscriber it would wait for all of them.
	for _, s := range d.subs {
		if authors.has(s.clientID) {
			s.deliverLiveLocked(ev)
		}
	}
	for _, s := range d.subs {
		if !authors.has(s.clientID) {
			s.deliverLiveLocked(ev)
		}
	}
}

// maxAuthorsFirst bounds the distinct authors deliverOpsLocked serves
// first: past it the batch is a crowd's, whose echoes go out at about the
// same time in any order.
const maxAuthorsFirst = 4

// authorSet is the distinct clients of a batch's operations, at most
// maxAuthorsFirst; an array, so that finding them costs no allocation.
type authorSet struct {
	n       int
	clients [maxAuthorsFirst]string
}

// authorsOf returns ops' distinct authors; few is false when there are
// more than maxAuthorsFirst.
func authorsOf(ops []*Op) (set authorSet, few bool) {
	for _, op := range ops {
		if op.ClientID == "" || set.has(op.ClientID) {
			continue
		}
		if set.n == maxAuthorsFirst {
			return set, false
		}
		set.clients[set.n] = op.ClientID
		set.n++
	}
	return set, true
}

func (a *authorSet) has(client string) bool {
	return client != "" && slices.Contains(a.clients[:a.n], client)
}

// failBatch runs after a failed Commit. Nothing of the batch is durable, so
// nothing is acknowledged: every caller gets CodeUnavailable, and each
// document of the batch is dropped from memory (its in-memory state ran
// ahead of the store) so that the next use reloads it from the store. Its
// subscribers are told to resync: they saw only durable operations, so
// they are still consistent and rejoin from where they are.
func (e *Engine) failBatch(batch []*pending, err error) {
	e.log.Error("store commit failed", "records", len(batch), "err", err)
	seen := make(map[*document]bool, 4)
	for _, p := range batch {
		p.err = storeError(p.doc.id, "commit", err)
		if CodeOf(p.err) == CodeInternal {
			p.err.(*Error).Code = CodeUnavailable
		}
		if !seen[p.doc] {
			seen[p.doc] = true
			e.breakDocument(p.doc)
		}
		e.finishFailed(p)
	}
}

// breakDocument drops d after a failed write; see failBatch.
func (e *Engine) breakDocument(d *document) {
	d.broken = true // read only by the committer goroutine, which sets it
	d.mu.Lock()
	d.gone = true
	fwdDone := e.appliedForwardsLocked(d)
	// The edits still forwarded from d are answered through d, but the
	// copy loaded in its place knows nothing of them: the same clients'
	// later edits would be decided there before them, and they, reaching
	// the home after, refused as duplicates. Those later edits wait for
	// their answers instead (forward_unknown.go's "Order"). The one being
	// decided here (fwdBusy) is its own caller's.
	for i, p := range d.fwd {
		if i > 0 || !d.fwdBusy {
			e.markUnsettled(d.id, p)
		}
	}
	d.mu.Unlock()
	// Before d leaves the table, so that the copy loaded in its place
	// takes the room (keptroom.go).
	e.keepRoom(d)
	for _, p := range fwdDone {
		p.finish()
	}
	e.forget(d)
	d.subsMu.Lock()
	subs := d.subs
	d.setSubsLocked(nil)
	for _, s := range subs {
		s.dropLocked(ResyncStoreFailure)
	}
	d.subsMu.Unlock()
}
