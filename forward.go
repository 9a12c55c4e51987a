package syncd

import (
	"context"
	"errors"
	"time"

	"github.com/deltasync/syncd/revision"
)

// Forwarding: on a [SharedStore], a document written through several
// engines at once makes them race for each conditional append. The winner
// has its next batch ready when its acknowledgement arrives; a loser must
// read the document back and decide again (rebase.go), and arrives late
// again, so its clients starve. Forwarding ends the race: while a document
// is contended, every engine but one (the document's home, which all of
// them name alike through the Forwarder) sends its clients' idempotent
// edits to the home, which decides them with its own, and the engines no
// longer compete for the log.
//
// When: a conflict of an edit on a document (sharedCommitFailed) puts it
// in forward mode for Options.ForwardHold, on every instance
// (Forwarder.Contended). A creation or deletion race does not: it is
// settled once by the rebase (createdOrDeleted, rebase.go).
// Outside it nothing changes: an uncontended document never pays the
// extra hop. Leaving forward mode: the hold is extended by conflicts and
// their announcements, and by the home's replies while the home sees the
// document written through another source than the forwarder (its own
// clients, or another instance's forwards, in the last ForwardHold:
// ForwardOutcome.Contended), or a forward without an answer in time (a
// home too slow to answer). Not by the forwards themselves: an instance
// whose clients alone still write would otherwise forward for ever, since
// forwarding is what keeps conflicts from happening.
// What: edits with a client id and a request id (idempotent), which the
// store de-duplicates and the watermark orders; the others are decided
// here, as are the home's own.
//
// Order and exactly-once. A client's request ids must be decided in
// increasing order (the watermark refuses an id at or below it), so an
// edit is never forwarded while the document has writes of its own in
// flight, a rebase's included (they would be decided after it), an
// idempotent edit is never decided here while forwards of the document
// are in flight (it would be decided before them), forwards go out in the
// order they were decided to be forwarded (the Forwarder keeps it, and
// the home decides each client's in arrival order), and their
// replies are taken in that order too (d.fwd). A conflict that undoes
// this engine's own writes while the document is in forward mode
// forwards them rather than deciding them again here (rebase.go), so
// that the loser's undone edits stop starving too.
//
// The outcome reaches the client as always, through the pending's then.
// An applied edit is completed once this engine's copy of the document
// has followed the log up to its revision, so that no client is told of
// a revision its delta stream has not shown yet; a refusal is completed
// at once. A forward that was not delivered is decided here; one whose
// outcome is unknown (a timeout) is decided here too, after reading the
// client's watermark and outcomes from the store: if the home decided it
// meanwhile, that decision is the answer, and if the home decides it
// after this engine did, the store's de-duplication by client request id
// refuses the second write, which the home then resolves to the first
// (rebase.go). The home's decision may also land between that read and
// the decision here, and this engine's copy follow the log to it first:
// its watermark then calls the edit a duplicate, and the outcome is read
// from the store again so that the home's decision is the answer
// (resolveLateDecision), not "already decided" for an edit the home
// applied.
//
// Order across a lost forward. A forward may be lost on the way, or be
// refused at the home before a decision (its deadline passed while it
// waited), and its reply may come after the sender stopped waiting. The
// client's next edit, sent behind it, would then be decided at the home
// first, and the lost one, decided here afterwards, refused as a
// duplicate: an edit lost through no fault of the client. So each
// forwarded edit names the same client's edit forwarded before it whose
// reply had not come when it was sent (ForwardedEdit.After), and the
// home decides it only once that one is decided (the client's watermark
// covers it, in memory or in the store); otherwise it refuses it,
// unavailable and not applied, and the client sends it again after the
// earlier one is settled here.

// Forwarder sends edits of a contended document to the engine that
// decides them (Options.Forwarder). server's cluster implements it on the
// cluster bus.
type Forwarder interface {
	// Home names the instance that should decide doc's edits now, and
	// whether it is this one. Every instance must name the same home
	// when they agree on who is alive (rendezvous hashing over the live
	// instances does); when they briefly disagree, the result is
	// contention again, never a wrong decision: a receiver always
	// decides what it is sent.
	Home(doc string) (instance string, self bool)

	// Forward sends fe to instance, after every edit this engine
	// forwarded to it before, and calls reply exactly once with the
	// receiver's outcome ([Engine.CommitForwarded]) or an error: one
	// wrapping [ErrNotForwarded] when the edit was certainly not
	// delivered, any other when its outcome is unknown (a timeout, a
	// closing transport). It must not block, and must not call reply
	// before it returns (the engine calls it holding the document's
	// lock); reply may be called from any goroutine and may block for a
	// store read.
	Forward(instance string, fe ForwardedEdit, reply func(ForwardOutcome, error))

	// Contended tells the other instances that doc is contended here (a
	// conflict put it in forward mode), so that each calls
	// [Engine.Contended]: the instance that wins every race for the log
	// never has a conflict of its own, and would go on deciding locally
	// while the home's edits lose to it. Best effort; it must not block.
	Contended(doc string)
}

// ErrNotForwarded: a forwarded edit certainly did not reach an engine
// that could decide it (nobody listened at the home's address, or the
// message could not be sent). The forwarding engine decides it itself.
var ErrNotForwarded = errors.New("syncd: edit not forwarded")

// ForwardedEdit is an edit on its way to its document's home.
type ForwardedEdit struct {
	Doc string
	// Edit is the client's; its Patch is compact.
	Edit Edit
	// Refuse asks the receiver to record the server's own refusal of the
	// request id (Engine.Refuse) rather than decide an edit.
	Refuse bool
	// From names the sending instance; the home tells whether others
	// write the document too (ForwardOutcome.Contended).
	From string
	// After is the request id of the same client's edit forwarded before
	// this one whose outcome the sender did not know yet, if any: the
	// receiver decides this one only once that one is decided (see
	// "Order across a lost forward").
	After string
}

// ForwardOutcome is what became of a forwarded edit at its home: applied
// as Op (in Epoch), or not, with Err (a refusal, or a failure before a
// decision, as CommitAsync reports them).
type ForwardOutcome struct {
	Op    *Op
	Epoch revision.Epoch
	Err   *Error
	// Contended: the home saw the document written through another
	// source than the sender in the last ForwardHold, so the sender
	// stays in forward mode.
	Contended bool
}

// forwardedIn is what the home keeps of a forwarded edit while deciding it.
type forwardedIn struct {
	from, after string
	// afterReadBack: the store's watermark was read once for after
	// (decideHere), so the next check is final.
	afterReadBack bool
	contended     bool
}

// DefaultForwardHold is Options.ForwardHold's default.
const DefaultForwardHold = 5 * time.Second

// CommitForwarded decides an edit another engine forwarded here, always
// here (it is never forwarded again), and calls then once with its
// outcome, as CommitAsync would: after the decision is durable, or at
// once for a refusal that needs no write. Edits given to it one after
// another by one goroutine are decided in that order.
func (e *Engine) CommitForwarded(ctx context.Context, fe ForwardedEdit, then func(ForwardOutcome)) {
	e.stats.forwardsIn.Add(1)
	p := &pending{fwdIn: &forwardedIn{from: fe.From, after: fe.After}}
	p.then = func(op *Op, err error) {
		out := ForwardOutcome{Contended: p.fwdIn.contended}
		if op != nil {
			out.Op = op
			if p.append != nil {
				out.Epoch = p.append.Epoch
			}
		}
		if err != nil {
			err = e.editError(fe.Doc, fe.Edit.ReqID, err)
			out.Err = err.(*Error)
		}
		then(out)
	}
	if fe.Refuse {
		if fe.Edit.ClientID == "" || revision.ValidateReqID(fe.Edit.ReqID) != nil {
			then(ForwardOutcome{Err: e.refused(&Error{Code: CodeInvalid, Message: "a forwarded refusal needs a client id and a valid request id", Doc: fe.Doc, ReqID: fe.Edit.ReqID})})
			return
		}
		p.edit = parsedEdit{ctx: ctx, Edit: Edit{ClientID: fe.Edit.ClientID, ReqID: fe.Edit.ReqID}, idempotent: true, rateLimited: true}
		e.decideHere(ctx, fe.Doc, p, true)
		return
	}
	ed := fe.Edit
	if refusal := e.parseEdit(ctx, fe.Doc, &ed, p); refusal != nil {
		p.then(nil, refusal)
		return
	}
	e.decideHere(ctx, fe.Doc, p, true)
}

// route is what decideHere does with an edit: decide it, or not.
type route uint8

const (
	routeDecide    route = iota // decide it here, now
	routeForwarded              // sent to the home
	routeRetry                  // the lock was released while waiting: look again
)

// routeLocked chooses where p's edit is decided (see the top of this
// file), forwarding it if that is the answer. d.mu is held on entry and on
// return; it is released while waiting, and then routeRetry is returned.
func (e *Engine) routeLocked(ctx context.Context, d *document, p *pending) (route, error) {
	if e.opts.Forwarder == nil || !p.edit.idempotent {
		return routeDecide, nil
	}
	if d.gone {
		return routeRetry, nil
	}
	if home, ok := e.forwardHomeLocked(d); ok {
		// This engine's own writes would be decided after this edit
		// that the home decides: let them finish first. (A rebase
		// counts: its undone writes are in flight until it ends. A
		// follow does not: it only brings in what the home decided.)
		if d.submitted != d.completed {
			err := waitLocked(ctx, d, func() bool { return d.submitted != d.completed })
			return routeRetry, err
		}
		e.forwardLocked(d, p, home)
		return routeForwarded, nil
	}
	if len(d.fwd) > 0 {
		// Leaving forward mode, or the home is this engine now: the
		// edits forwarded before are decided first.
		err := waitLocked(ctx, d, func() bool { return len(d.fwd) > 0 })
		return routeRetry, err
	}
	return routeDecide, nil
}

// forwardHomeLocked returns d's home if d's idempotent edits are to be
// forwarded now: d is in forward mode and its home is another instance.
// d.mu must be held.
func (e *Engine) forwardHomeLocked(d *document) (string, bool) {
	if e.opts.Forwarder == nil || !e.opts.Now().Before(d.fwdUntil) {
		return "", false
	}
	home, self := e.opts.Forwarder.Home(d.id)
	return home, !self && home != ""
}

// contendedLocked puts d in forward mode after a conflict, and reports
// whether the other instances should be told (Forwarder.Contended): when
// d was not in forward mode, and again every half hold time while
// conflicts go on. d.mu must be held.
func (e *Engine) contendedLocked(d *document) (announce bool) {
	if e.opts.Forwarder == nil {
		return false
	}
	now := e.opts.Now()
	d.fwdUntil = now.Add(e.opts.ForwardHold)
	if now.Sub(d.fwdAnnounced) < e.opts.ForwardHold/2 {
		return false
	}
	d.fwdAnnounced = now
	return true
}

// Contended puts doc in forward mode, if it is loaded here: another
// instance had a conflict on it (Forwarder.Contended). This instance's
// clients' idempotent edits of doc go to its home from now on, unless
// this instance is the home.
func (e *Engine) Contended(doc string) {
	if e.opts.Forwarder == nil {
		return
	}
	e.mu.Lock()
	d := e.docs[doc]
	e.mu.Unlock()
	if d == nil {
		return
	}
	select {
	case <-d.ready:
	default:
		return // loading: it starts out of forward mode, as a new document would
	}
	e.stats.contendedElsewhere.Add(1)
	d.mu.Lock()
	if !d.gone {
		now := e.opts.Now()
		d.fwdUntil = now.Add(e.opts.ForwardHold)
		d.fwdAnnounced = now // the others were told: no need to tell them again
	}
	d.mu.Unlock()
}

// forwardLocked sends p's edit to home and queues p for its reply. p must
// not be in the committer's queue. d.mu must be held: holding it is what
// orders d's forwards.
func (e *Engine) forwardLocked(d *document, p *pending, home string) {
	p.doc = d
	p.create, p.append, p.app, p.snapshot, p.decide, p.refusal, p.err = nil, nil, AppendRecord{}, nil, nil, nil, nil
	p.edit.releasePatch() // the home parses it; a local decision parses the payload again
	p.fwdState = fwdSent
	d.fwd = append(d.fwd, p)
	e.stats.forwardsOut.Add(1)
	fe := ForwardedEdit{Doc: d.id, Edit: p.edit.Edit, Refuse: p.edit.rateLimited}
	if c := p.edit.ClientID; c != "" {
		if prev := d.fwdLast[c]; prev != nil {
			fe.After = prev.edit.ReqID
		}
		if d.fwdLast == nil {
			d.fwdLast = make(map[string]*pending)
		}
		d.fwdLast[c] = p
	}
	e.opts.Forwarder.Forward(home, fe, func(out ForwardOutcome, err error) { e.forwardReplied(p, out, err) })
}

// fwdState is where a forwarded pending stands.
type fwdState uint8

const (
	fwdNone     fwdState = iota // not forwarded
	fwdSent                     // waiting for the reply
	fwdAnswered                 // replied, waiting for its turn in d.fwd
	fwdFallback                 // to be decided here, waiting for its turn in d.fwd
)

// forwardReplied takes the reply to p's forward. A fallback reads the
// client's watermark and outcomes from the store first (here, holding no
// lock), so that a request the home did decide is answered with that
// decision.
func (e *Engine) forwardReplied(p *pending, out ForwardOutcome, err error) {
	d := p.doc
	if err != nil {
		if errors.Is(err, ErrNotForwarded) {
			e.stats.forwardsNotDelivered.Add(1)
		} else {
			p.fwdUnknown = true
			// Under d's lock: breakDocument marks d's forwards too.
			d.mu.Lock()
			e.markUnsettled(d.id, p)
			d.mu.Unlock()
			e.stats.forwardsUnknown.Add(1)
			e.log.Warn("forwarded edit: outcome unknown; deciding it here", "doc", d.id, "req", p.edit.ReqID, "err", err)
		}
		ctx := e.ctx
		w, werr := e.store.Watermark(ctx, d.id, p.edit.ClientID)
		var outs []revision.Outcome
		if werr == nil {
			outs, werr = e.store.Outcomes(ctx, d.id, p.edit.ClientID)
		}
		d.mu.Lock()
		p.fwdState = fwdFallback
		if p.fwdUnknown {
			// A home too slow to answer is no sign that contention is
			// over: leaving forward mode now would only race it again
			// while its answers are late.
			d.fwdUntil = e.opts.Now().Add(e.opts.ForwardHold)
		}
		if werr == nil {
			p.fwdWM, p.fwdOuts = w, outs
		}
	} else {
		d.mu.Lock()
		p.fwdState = fwdAnswered
		p.fwdOut = out
	}
	e.drainForwards(d)
}

// drainForwards settles d's forwards whose replies came, in the order they
// were sent, up to the first still waiting. d.mu is held on entry and
// released on return.
func (e *Engine) drainForwards(d *document) {
	var done []*pending
	for !d.fwdBusy && len(d.fwd) > 0 {
		p := d.fwd[0]
		if p.fwdState == fwdSent {
			break
		}
		if p.fwdState == fwdFallback {
			// Decided here, outside d's lock (it may load the document
			// again); the next replies wait until it is decided.
			d.fwdBusy = true
			d.mu.Unlock()
			for _, q := range done {
				q.finish()
			}
			done = done[:0]
			e.decideFallback(d, p)
			d.mu.Lock()
			d.fwdBusy = false
			d.forgetForwardLocked(p)
			d.fwd[0] = nil
			d.fwd = d.fwd[1:]
			d.advanceCompletedLocked(0, 0) // wakes deciders waiting for the forwards
			continue
		}
		d.forgetForwardLocked(p)
		d.fwd[0] = nil
		d.fwd = d.fwd[1:]
		out := p.fwdOut
		p.fwdState = fwdNone
		if out.Contended {
			d.fwdUntil = e.opts.Now().Add(e.opts.ForwardHold)
		}
		switch {
		case out.Err != nil && p.fwdUnknown && (out.Err.Code == CodeUnavailable || out.Err.Code == CodeClosed) &&
			e.redecideUnknown(d.id, p):
			// Forwarded again after an earlier forward of it went
			// unanswered (rebase.go), and this one not applied: the
			// earlier one may still be (forward_unknown.go).
		case out.Err != nil:
			p.refusal = out.Err
			done = append(done, p)
		case out.Op != nil:
			op := out.Op
			if c := op.ClientID; c != "" && op.ClientReqID != "" {
				if w, ok := d.wms[c]; ok {
					d.wms[c] = w.Advance(op.ClientReqID)
				}
			}
			epoch := out.Epoch
			if epoch == "" {
				epoch = d.epoch // not said: the one it was sent in
			}
			p.app = AppendRecord{Doc: d.id, Epoch: epoch, Op: op}
			p.append = &p.app
			d.fwdApplied = append(d.fwdApplied, p)
			e.requestFollow(d)
		default:
			// Recorded (a refusal of the server's own) or nothing to say.
			done = append(done, p)
		}
		d.advanceCompletedLocked(0, 0)
	}
	done = append(done, e.appliedForwardsLocked(d)...)
	d.mu.Unlock()
	for _, p := range done {
		p.finish()
	}
}

// decideFallback decides p here: its forward was not delivered, or its
// outcome is unknown. The client's watermark read after the reply says
// whether the home (or anyone) decided it meanwhile.
func (e *Engine) decideFallback(d *document, p *pending) {
	ed := &p.edit
	ed.ctx = context.WithoutCancel(ed.ctx) // the decision is owed to the client
	d.mu.Lock()
	if ed.idempotent && revision.CompareReqID(p.fwdWM.ReqID, d.wms[ed.ClientID].ReqID) > 0 {
		d.wms[ed.ClientID] = p.fwdWM
		d.rechargeLocked() // maybe one more cached watermark
	}
	decided := !d.gone && ed.idempotent && p.fwdWM.Decided(ed.ReqID)
	if decided {
		e.resolveDecidedLocked(d, p, p.fwdOuts)
		p.fwdWM, p.fwdOuts = revision.Watermark{}, nil
		if p.append != nil && p.refusal == nil {
			d.fwdApplied = append(d.fwdApplied, p)
			e.requestFollow(d)
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
		p.finish()
		return
	}
	d.mu.Unlock()
	p.fwdWM, p.fwdOuts = revision.Watermark{}, nil
	ed.reparse()
	e.decideHere(ed.ctx, d.id, p, true)
}

// appliedForwardsLocked takes the forwarded edits applied at their home
// that this engine's copy of d has now followed (or never will: d is gone,
// or another epoch), for the caller to finish outside the lock. The
// operation they report is the one d's ring holds, when it does. d.mu must
// be held.
func (e *Engine) appliedForwardsLocked(d *document) []*pending {
	if len(d.fwdApplied) == 0 {
		return nil
	}
	var done []*pending
	keep := d.fwdApplied[:0]
	for _, p := range d.fwdApplied {
		op := p.app.Op
		if !d.gone && p.app.Epoch == d.epoch && op.Rev > d.durable {
			keep = append(keep, p)
			continue
		}
		if en, ok := d.ring.Get(uint64(op.Rev)); ok && p.app.Epoch == d.epoch && en.op.ClientID == op.ClientID && en.op.ClientReqID == op.ClientReqID {
			p.app.Op = en.op
		}
		done = append(done, p)
	}
	clear(d.fwdApplied[len(keep):])
	d.fwdApplied = keep
	return done
}

// finishAppliedForwards finishes the forwarded edits d has now followed.
func (e *Engine) finishAppliedForwards(d *document) {
	d.mu.Lock()
	done := e.appliedForwardsLocked(d)
	d.mu.Unlock()
	for _, p := range done {
		p.finish()
	}
}

// finishForwardsAtClose finishes the forwarded edits their home applied
// that no follow will bring here any more (Close): they were applied.
func (e *Engine) finishForwardsAtClose() {
	if e.opts.Forwarder == nil {
		return
	}
	e.mu.Lock()
	docs := e.loadedLocked()
	e.mu.Unlock()
	for _, d := range docs {
		d.mu.Lock()
		done := d.fwdApplied
		d.fwdApplied = nil
		d.mu.Unlock()
		for _, p := range done {
			p.finish()
		}
	}
}

// forwardModeDocs counts the loaded documents in forward mode, for Stats.
func (e *Engine) forwardModeDocs() int {
	if e.opts.Forwarder == nil {
		return 0
	}
	e.mu.Lock()
	docs := e.loadedLocked()
	e.mu.Unlock()
	now, n := e.opts.Now(), 0
	for _, d := range docs {
		d.mu.Lock()
		if now.Before(d.fwdUntil) {
			n++
		}
		d.mu.Unlock()
	}
	return n
}

// forgetForwardLocked drops p from d.fwdLast once its outcome is known
// here. d.mu must be held.
func (d *document) forgetForwardLocked(p *pending) {
	if c := p.edit.ClientID; c != "" && d.fwdLast[c] == p {
		delete(d.fwdLast, c)
	}
}

// maxWriterSources bounds a document's writers map: past it, sources not
// seen in the last ForwardHold are dropped. The sources are this engine
// and the instances forwarding to it, a handful.
const maxWriterSources = 16

// wroteLocked records that d is being written through src ("" for this
// engine's own clients, else the forwarding instance) and reports whether
// another source wrote it in the last ForwardHold. d.mu must be held.
func (e *Engine) wroteLocked(d *document, src string) (others bool) {
	if e.opts.Forwarder == nil && src == "" && d.writers == nil {
		return false // no forwarding here, and nothing forwarded to d yet
	}
	now := e.opts.Now()
	if d.writers == nil {
		d.writers = make(map[string]time.Time)
	}
	d.writers[src] = now
	prune := len(d.writers) > maxWriterSources
	for s, at := range d.writers {
		recent := now.Sub(at) < e.opts.ForwardHold
		if !recent && prune {
			delete(d.writers, s)
		}
		if s != src && recent {
			others = true
		}
	}
	return others
}

// afterDecidedLocked reports whether p, forwarded here, may be decided
// now: the same client's edit forwarded before it (ForwardedEdit.After),
// if any, is decided. d.mu must be held.
func afterDecidedLocked(d *document, p *pending) bool {
	in := p.fwdIn
	return in == nil || in.after == "" || d.wms[p.edit.ClientID].Decided(in.after)
}

// source is the instance in ← came from, "" for none (this engine's own
// client).
func (in *forwardedIn) source() string {
	if in == nil {
		return ""
	}
	return in.from
}

// checkAfterInStore is decideHere's answer when p's earlier edit
// (ForwardedEdit.After) is not decided as far as d's copy knows: the copy
// may not have followed the log to that decision yet, so the store's
// watermark is read, once (retry: look again); after that, p is refused,
// unavailable and not applied. d.mu must not be held.
func (e *Engine) checkAfterInStore(ctx context.Context, d *document, p *pending) (retry bool, refusal error) {
	in, c := p.fwdIn, p.edit.ClientID
	if !in.afterReadBack {
		in.afterReadBack = true
		w, err := e.store.Watermark(ctx, d.id, c)
		if err != nil {
			return false, e.editError(d.id, p.edit.ReqID, storeError(d.id, "watermark read", err))
		}
		d.mu.Lock()
		if cur, ok := d.wms[c]; ok && revision.CompareReqID(w.ReqID, cur.ReqID) > 0 {
			d.wms[c] = w
		}
		d.mu.Unlock()
		return true, nil
	}
	e.stats.forwardsOutOfOrder.Add(1)
	return false, e.refused(&Error{Code: CodeUnavailable, Doc: d.id, ReqID: p.edit.ReqID, Head: e.knownHead(d.id),
		Message: "the client's earlier edit " + in.after + " forwarded here is not decided yet; send this one again once that one is answered"})
}

// resolveLateDecision answers p, a forward with no answer in time that
// this engine went on to decide itself, when its copy of d says the
// request is decided after all: the home decided it after the client's
// watermark was read for the fallback (decideFallback), and d followed
// the log to that decision before the fallback was decided. The answer is
// the home's decision, read from the store's outcomes, not "duplicate":
// that would tell the client an edit the home applied was refused. d.mu
// must not be held.
func (e *Engine) resolveLateDecision(ctx context.Context, d *document, p *pending) {
	outs, err := e.store.Outcomes(ctx, d.id, p.edit.ClientID)
	if err != nil {
		if e.redecideUnknown(d.id, p) {
			return // the log could not be read: decide it again, which reads it again
		}
		p.then(nil, &Error{Code: CodeInternal, Message: "the outcome of the forwarded edit is unknown", Doc: d.id, ReqID: p.edit.ReqID,
			Head: e.knownHead(d.id), Err: ErrOutcomeUnknown})
		return
	}
	d.mu.Lock()
	e.resolveDecidedLocked(d, p, outs)
	if p.append != nil && p.refusal == nil {
		d.fwdApplied = append(d.fwdApplied, p) // answered once d has followed the log to it
		e.requestFollow(d)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	p.finish()
}
