package syncd

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/revision"
)

// On a [SharedStore] the engine is one writer among several: it decides
// an edit against its copy of the document, and the store appends it only
// if nobody else appended first. When another writer did (a conflict), or
// when the store cannot say whether the write happened (an unknown
// outcome), the decisions the engine made for that document since its
// last durable revision may be wrong: they were made without the other
// writer's operations. This file undoes and redoes them:
//
//  1. The committer marks the document stale (deciders and readers wait)
//     and bumps its gen, so that every pending of the document still in
//     the queue is recognised as decided against the undone state.
//  2. It collects those pendings, in order, as they come out of the queue
//     (they are all in it already: they were queued under the document's
//     lock, before the mark).
//  3. It reads the document from the store (Load, the watermarks and
//     outcomes of the clients concerned) without any lock, installs it,
//     delivers the other writers' operations to subscribers as live
//     deltas, and decides every collected edit again, in order: the
//     rebase check now sees the other writers' operations, a request the
//     store has already decided resolves to its recorded outcome, and
//     what is applied again is queued again.
//
// Nothing undone was ever delivered: subscribers only see durable
// operations, so they need no correction, only the other writers'
// operations, in revision order, before the redone ones.

// rebaseBackoffMin and rebaseBackoffMax bound the wait between attempts to
// read a document back after a conflict, while the store fails.
const (
	rebaseBackoffMin = 10 * time.Millisecond
	rebaseBackoffMax = time.Second
	// closingAttempts bounds the attempts once the engine is closing.
	closingAttempts = 5
)

// startRedo begins step 1 for d, whose decisions in flight were undone
// (unknown: perhaps undone). Committer goroutine only.
func (e *Engine) startRedo(d *document, unknown bool) {
	if d.redoing {
		d.redoUnknown = d.redoUnknown || unknown
		return
	}
	d.mu.Lock()
	d.gen++
	d.stale = true
	d.redoWant = d.submitted - d.completed
	d.mu.Unlock()
	d.redoing = true
	d.redo = d.redo[:0]
	d.redoUnknown = unknown
	e.rebasing = append(e.rebasing, d)
	e.stats.rebases.Add(1)
	if unknown {
		e.stats.rebasesUnknown.Add(1)
	}
}

// sharedCommitFailed handles a failed Commit of a shared store: the
// documents whose records were applied finish as usual; those that
// conflicted, or whose outcome is unknown, are decided again; the others
// failed for good, as on a store of one writer.
func (e *Engine) sharedCommitFailed(live []*pending, err error) {
	var pce *PartialCommitError
	partial := errors.As(err, &pce)
	var ok, failed []*pending
	var failErr error
	oneOff := createdOrDeleted(live)
	for _, p := range live {
		ferr := err
		if partial {
			ferr = pce.Failed[p.doc.id]
		}
		switch {
		case ferr == nil:
			ok = append(ok, p)
		case errors.Is(ferr, ErrConflict) || errors.Is(ferr, ErrOutcomeUnknown):
			if errors.Is(ferr, ErrConflict) && !oneOff[p.doc] {
				p.doc.mu.Lock()
				announce := e.contendedLocked(p.doc)
				p.doc.mu.Unlock()
				if announce {
					e.opts.Forwarder.Contended(p.doc.id)
				}
			}
			if errors.Is(ferr, ErrOutcomeUnknown) && p.append != nil && p.edit.idempotent {
				// Its write may still land, after the rebase reads the
				// store back: whatever becomes of the edit from here (a
				// forward the home refuses unavailable, a write that
				// fails), it is never answered "not applied"; it is
				// decided again later instead (forward_unknown.go).
				p.fwdUnknown = true
			}
			e.startRedo(p.doc, errors.Is(ferr, ErrOutcomeUnknown))
			p.doc.redo = append(p.doc.redo, p)
		default:
			failed, failErr = append(failed, p), ferr
		}
	}
	if len(ok) > 0 {
		e.finishBatch(ok)
	}
	if len(failed) > 0 {
		e.failBatch(failed, failErr)
	}
}

// createdOrDeleted returns the documents that batch creates or deletes.
// A conflict puts a document in forward mode only when writers race for
// its log: an edit's operation or refusal lost its place to another
// writer's. A conflict of a batch that creates or deletes the document
// (two instances creating a new document at once, as when its first
// clients JOIN through several; an edit of it in the same batch fails
// with the creation) is a one-off race the rebase settles, and forwarding
// after it would send every edit of the next ForwardHold through the bus
// for nothing.
func createdOrDeleted(batch []*pending) map[*document]bool {
	var docs map[*document]bool
	for _, p := range batch {
		if p.create != nil || p.del != nil {
			if docs == nil {
				docs = make(map[*document]bool)
			}
			docs[p.doc] = true
		}
	}
	return docs
}

// afterBatch runs on the committer after each batch on a shared store:
// it catches up the documents whose follow was asked for, then decides
// again the pendings of each document whose undone pendings are all
// collected.
func (e *Engine) afterBatch(follows []*document) {
	for _, d := range follows {
		d.followQueued.Store(false)
		e.follow(d)
	}
	keep := e.rebasing[:0]
	for _, d := range e.rebasing {
		if uint64(len(d.redo)) < d.redoWant {
			if !e.queue.empty() {
				keep = append(keep, d) // the rest are in the queue
				continue
			}
			// They were all queued before the document was marked, and
			// the queue is empty: a miscount. Go on with what there is
			// rather than leave the document stale for ever.
			e.log.Error("rebase: fewer undone pendings than counted", "doc", d.id, "have", len(d.redo), "want", d.redoWant)
			d.mu.Lock()
			d.submitted -= d.redoWant - uint64(len(d.redo))
			d.mu.Unlock()
		}
		e.rebase(d)
	}
	clear(e.rebasing[len(keep):])
	e.rebasing = keep
}

// storeView is what a rebase read from the store, outside any lock.
type storeView struct {
	sd *StoredDoc // nil: the document does not exist
	// state and entries are sd replayed: the head state, and the tail's
	// operations with the paths they touched.
	state   any
	entries []entry
	// foreign are the operations after the durable revision the engine
	// had, up to sd's head, when the epoch is the same; foreignLost when
	// they could not be read (trimmed by retention).
	foreign     []*Op
	foreignLost bool
	// wms and outcomes are those of the clients of the collected edits.
	wms      map[string]revision.Watermark
	outcomes map[string][]revision.Outcome
}

// readView reads d from the store for a rebase; epoch and durable are
// where d stood.
func (e *Engine) readView(d *document, redo []*pending, epoch revision.Epoch, durable revision.Rev) (*storeView, error) {
	ctx := e.ctx
	v := &storeView{}
	sd, err := e.store.Load(ctx, d.id)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return nil, storeError(d.id, "load", err)
	default:
		v.sd = sd
		v.state, err = replay(d.id, sd, func(op *Op, paths delta.PathSet) {
			v.entries = append(v.entries, entry{op: op, paths: paths})
		})
		if err != nil {
			return nil, permanent{err} // the stored log itself is broken
		}
		if sd.Meta.Epoch == epoch && sd.Meta.Head > durable {
			if sd.SnapshotRev <= durable {
				v.foreign = sd.Tail[durable-sd.SnapshotRev:]
			} else {
				ops, err := e.readOpsUpTo(ctx, d.id, epoch, durable, sd.SnapshotRev)
				switch {
				case errors.Is(err, ErrGone):
					v.foreignLost = true
				case err != nil:
					return nil, err
				default:
					v.foreign = append(ops, sd.Tail...)
				}
			}
		}
	}
	for _, p := range redo {
		c := p.edit.ClientID
		if !p.edit.idempotent || v.wms[c] != (revision.Watermark{}) {
			continue
		}
		if v.wms == nil {
			v.wms = make(map[string]revision.Watermark)
			v.outcomes = make(map[string][]revision.Outcome)
		}
		w, err := e.store.Watermark(ctx, d.id, c)
		if err != nil {
			return nil, storeError(d.id, "watermark read", err)
		}
		outs, err := e.store.Outcomes(ctx, d.id, c)
		if err != nil {
			return nil, storeError(d.id, "outcomes read", err)
		}
		v.wms[c], v.outcomes[c] = w, outs
	}
	return v, nil
}

// permanent marks an error that trying again cannot mend.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// readOpsUpTo reads doc's operations after after up to to, in pages.
func (e *Engine) readOpsUpTo(ctx context.Context, doc string, epoch revision.Epoch, after, to revision.Rev) ([]*Op, error) {
	var ops []*Op
	for after < to {
		page, err := e.store.ReadOps(ctx, doc, epoch, after, min(e.opts.CatchUpPage, int(to-after)))
		if err != nil {
			return nil, err
		}
		if len(page) == 0 || page[0].Rev != after+1 {
			return nil, &Error{Code: CodeInternal, Message: "store log does not continue where asked", Doc: doc}
		}
		for _, op := range page {
			if op.Rev > to {
				break
			}
			ops = append(ops, op)
			after = op.Rev
		}
	}
	return ops, nil
}

// readViewRetrying is readView, tried again with backoff while the store
// fails and the engine runs (a few times more once it is closing).
func (e *Engine) readViewRetrying(d *document, redo []*pending, epoch revision.Epoch, durable revision.Rev) (*storeView, error) {
	delay := rebaseBackoffMin
	closing := 0
	for {
		v, err := e.readView(d, redo, epoch, durable)
		if err == nil || errors.As(err, new(permanent)) {
			return v, err
		}
		e.log.Warn("reading a document back after a conflict failed; retrying", "doc", d.id, "err", err, "in", delay)
		select {
		case <-e.queue.closed:
			if closing++; closing >= closingAttempts {
				return nil, err
			}
		default:
		}
		select {
		case <-time.After(delay):
		case <-e.ctx.Done():
			return nil, err
		}
		delay = min(2*delay, rebaseBackoffMax)
	}
}

// rebase is step 3 for d: every undone pending is collected in d.redo.
// Committer goroutine only.
func (e *Engine) rebase(d *document) {
	redo, unknown := d.redo, d.redoUnknown
	d.redo, d.redoing, d.redoUnknown = nil, false, false
	d.mu.Lock()
	ticket := d.followAsked
	epoch, durable := d.epoch, d.durable
	d.mu.Unlock()

	v, err := e.readViewRetrying(d, redo, epoch, durable)
	if err != nil {
		e.abandonRedo(d, redo, unknown, err)
		return
	}
	e.stats.redecided.Add(uint64(len(redo)))
	var done, resolved []*pending
	d.mu.Lock()
	e.installLocked(d, v, epoch, durable, len(redo) > 0)
	// While d is contended, the undone edits go to its home rather than
	// race for the log again (forward.go).
	home, forward := e.forwardHomeLocked(d)
	for _, p := range redo {
		d.submitted-- // counted again if queued again
		if p.del != nil {
			e.deleteLocked(d, p)
			continue
		}
		if p.append == nil && p.decide == nil {
			// A creation: the document exists now, by installLocked.
			done = append(done, p)
			continue
		}
		if p.append != nil {
			if stored := v.storedAt(p.app.Op.Rev); stored != nil && sameOp(stored, p.app.Op) {
				// The write whose outcome was unknown did happen.
				p.app.Op = stored
				p.snapshot, p.refusal = nil, nil
				done = append(done, p)
				resolved = append(resolved, p)
				continue
			}
		}
		if forward && p.edit.idempotent && p.del == nil && (p.append != nil || p.decide != nil) &&
			!d.wms[p.edit.ClientID].Decided(p.edit.ReqID) {
			e.forwardLocked(d, p, home)
			continue
		}
		if e.redecideLocked(d, p, v) {
			done = append(done, p)
		}
	}
	done = append(done, e.appliedForwardsLocked(d)...)
	d.stale = false
	d.followDone = max(d.followDone, ticket)
	d.followErr = nil
	d.advanceCompletedLocked(0, 0) // wakes whoever waits for d to be fresh
	d.mu.Unlock()
	for _, p := range resolved {
		e.notifyCommitted(p)
	}
	for _, p := range done {
		p.finish()
	}
}

// storedAt returns the operation the store holds at rev among the other
// writers' operations read, or nil.
func (v *storeView) storedAt(rev revision.Rev) *Op {
	if len(v.foreign) == 0 || rev < v.foreign[0].Rev || rev > v.foreign[len(v.foreign)-1].Rev {
		return nil
	}
	return v.foreign[rev-v.foreign[0].Rev]
}

// sameOp reports whether stored is op, written by this engine before its
// outcome was lost: what a store de-duplicates by client request id, an
// edit without ids can only be recognised by.
func sameOp(stored, op *Op) bool {
	return stored == op || stored.Rev == op.Rev && stored.Kind == op.Kind && stored.Time == op.Time &&
		stored.ClientID == op.ClientID && stored.ClientReqID == op.ClientReqID && bytes.Equal(stored.Payload, op.Payload)
}

// installLocked makes d what v read from the store, where d stood at
// epoch and durable, and brings its subscribers along: the other writers'
// operations as live deltas, or a snapshot after an epoch change. needed
// says whether the document must exist afterwards (there are edits to
// decide again) even if the store no longer has it. d.mu must be held.
func (e *Engine) installLocked(d *document, v *storeView, epoch revision.Epoch, durable revision.Rev, needed bool) {
	d.subsMu.Lock()
	defer d.subsMu.Unlock()
	inUse := len(d.subs) > 0 || len(d.presence) > 0
	if v.sd != nil && v.sd.Meta.Epoch == epoch && v.sd.Meta.Head >= durable && !v.foreignLost {
		// The same history, read on from durable: the watermarks of the
		// clients without an undone edit only lag by the other writers'
		// operations, as after a follow. Keeping them spares every such
		// client a store read at its next edit: on a hot document with
		// hundreds of clients, forgetting them all made the reads that
		// followed a rebase decide edits a few at a time for seconds.
		// The clients of the undone edits get the store's (below): their
		// own watermarks count decisions that were undone.
		for _, op := range v.foreign {
			if w, ok := d.wms[op.ClientID]; ok && op.ClientReqID != "" {
				d.wms[op.ClientID] = w.Advance(op.ClientReqID)
			}
		}
	} else {
		clear(d.wms)
	}
	for c, w := range v.wms {
		d.wms[c] = w
	}
	d.rechargeLocked() // the cached watermarks changed (loadcost.go)
	d.snapCacheOK = false
	d.hookChecked = false
	if v.sd == nil {
		// Deleted by another writer. It lives on, under a new epoch, for
		// the edits to decide again and for its subscribers; otherwise
		// it is absent until written again.
		e.resetLocked(d, newEpoch())
		if !needed && !inUse {
			d.absent = true
			for _, s := range append([]*Subscription(nil), d.subs...) {
				s.dropLocked(ResyncStoreFailure)
			}
			return
		}
		d.absent = false
		e.submitLocked(d, &pending{create: &CreateRecord{Doc: d.id, Epoch: d.epoch, Time: e.opts.Now().UnixMilli()}})
		e.resetSubscribersLocked(d, durable)
		return
	}
	sd := v.sd
	d.absent = false
	d.epoch = sd.Meta.Epoch
	d.state = v.state
	d.size = delta.Size(v.state)
	d.head, d.durable, d.first = sd.Meta.Head, sd.Meta.Head, sd.Meta.First
	d.sinceSnapshot = len(sd.Tail)
	if sd.Meta.Epoch == epoch && sd.SnapshotRev <= durable && durable <= sd.Meta.Head && d.ring.First() <= uint64(durable)+1 {
		// Keep the durable operations the ring holds (a redone edit's
		// rebase check may reach back to them); drop the undone ones.
		d.ring.TruncateAfter(uint64(durable))
		d.members.Invalidate(uint64(durable))
		for _, en := range v.entries {
			if en.op.Rev > durable {
				d.push(en.op, en.paths, true)
			}
		}
	} else {
		d.history = newHistory(e.opts.RingSize, uint64(sd.SnapshotRev)+1)
		for _, en := range v.entries {
			d.push(en.op, en.paths, true)
		}
	}
	d.rechargeLocked()
	switch {
	case sd.Meta.Epoch != epoch || sd.Meta.Head < durable:
		// Another history (a store never loses durable operations of
		// one epoch; if it did, its subscribers start over too).
		e.resetSubscribersLocked(d, durable)
	case v.foreignLost:
		for _, s := range append([]*Subscription(nil), d.subs...) {
			s.dropLocked(ResyncStoreFailure)
		}
	default:
		e.stats.rebaseOps.Add(uint64(len(v.foreign)))
		deliverOpsLocked(d, epoch, v.foreign)
	}
}

// resetSubscribersLocked tells d's subscribers that d is now another
// history (its epoch changed under them): a snapshot of the head, after a
// Gap of reason epoch. d.mu and d.subsMu must be held.
func (e *Engine) resetSubscribersLocked(d *document, had revision.Rev) {
	if len(d.subs) == 0 {
		return
	}
	state, err := d.snapshotLocked()
	if err != nil {
		for _, s := range append([]*Subscription(nil), d.subs...) {
			s.dropLocked(ResyncStoreFailure)
		}
		return
	}
	ev := &Event{
		Kind: EventSnapshot, Doc: d.id, Epoch: d.epoch, Rev: d.head, State: state,
		Gap:         &Gap{Reason: GapEpoch, ExpectedRev: had, ServerRev: d.head, ResumeFrom: d.head, BufferFirstRev: revision.Rev(d.ring.First())},
		CatchUpDone: true,
	}
	for _, s := range append([]*Subscription(nil), d.subs...) {
		s.deliverResetLocked(ev)
	}
}

// redecideLocked decides p's edit again, against d as just installed. It
// reports whether p is done (refused without a write, or resolved from
// the outcome the store recorded); otherwise p is queued again. d.mu must
// be held.
func (e *Engine) redecideLocked(d *document, p *pending, v *storeView) (done bool) {
	p.create, p.append, p.app, p.snapshot, p.decide, p.refusal, p.err = nil, nil, AppendRecord{}, nil, nil, nil, nil
	ed := &p.edit
	if ed.idempotent && d.wms[ed.ClientID].Decided(ed.ReqID) {
		e.resolveDecidedLocked(d, p, v.outcomes[ed.ClientID])
		return true
	}
	// The caller may be gone; the decision is still owed to the client,
	// which learns it on its next join.
	ed.ctx = context.WithoutCancel(ed.ctx)
	ed.reparse()
	refusal := e.decideLocked(d, p)
	ed.releasePatch()
	if refusal != nil {
		p.refusal = refusal
		return true
	}
	return false
}

// resolveDecidedLocked answers p, whose request the store had already
// decided (another writer applied or refused the same request id), with
// that decision: the operation, or the refusal's code. A decision older
// than the outcomes kept is a plain duplicate. d.mu must be held.
func (e *Engine) resolveDecidedLocked(d *document, p *pending, outs []revision.Outcome) {
	ed := &p.edit
	for _, o := range outs {
		if o.ReqID != ed.ReqID || ed.rateLimited {
			continue // a refusal of the server's own only needs to know it is decided
		}
		if o.Committed() {
			op, ok := d.ring.Get(uint64(o.Rev))
			if ok && op.op.ClientID == ed.ClientID && op.op.ClientReqID == ed.ReqID {
				p.app.Op = op.op
			} else {
				p.app.Op = &Op{Rev: o.Rev, Kind: ed.kind, Payload: ed.Patch, ClientID: ed.ClientID, ClientReqID: ed.ReqID}
			}
			p.app.Epoch = d.epoch // outcomes are kept per epoch
			p.append = &p.app
			return
		}
		code, _ := ParseCode(o.Code)
		p.refusal = &Error{Code: code, Message: "refused (decided by another server)", Doc: d.id, ReqID: ed.ReqID, Head: d.head}
		return
	}
	p.refusal = e.refused(&Error{Code: CodeDuplicate, Message: "request " + ed.ReqID + " was already decided", Doc: d.id, ReqID: ed.ReqID, Head: d.head})
}

// abandonRedo fails d's undone pendings when the store could not be read
// back before the engine closed. A pending whose write may have happened
// is not told "not applied": its error wraps ErrOutcomeUnknown.
func (e *Engine) abandonRedo(d *document, redo []*pending, unknown bool, err error) {
	e.log.Error("giving up on deciding edits again after a conflict", "doc", d.id, "edits", len(redo), "err", err)
	for _, p := range redo {
		if unknown {
			// Not CodeUnavailable or CodeClosed, which promise "not
			// applied" (the client would apply it again under a new id).
			p.err = &Error{Code: CodeInternal, Message: "the engine closed before the outcome of the edit was known", Doc: d.id, ReqID: p.edit.ReqID, Err: ErrOutcomeUnknown}
		} else {
			p.err = &Error{Code: CodeUnavailable, Message: "the edit conflicted with another server's and could not be decided again", Doc: d.id, ReqID: p.edit.ReqID, Err: err}
		}
	}
	e.breakDocument(d)
	d.mu.Lock()
	d.stale = false
	d.advanceCompletedLocked(uint64(len(redo)), 0)
	d.mu.Unlock()
	for _, p := range redo {
		p.finish()
	}
}
