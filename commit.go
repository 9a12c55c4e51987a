package syncd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/internal/jsonkit"
	"github.com/deltasync/syncd/revision"
)

// Edit is a request to change a document.
type Edit struct {
	// ClientID identifies the client across connections. With ReqID it
	// makes the edit idempotent: the engine keeps, per document and
	// client, the highest request id it has decided (the watermark), and
	// never applies an id at or below it.
	ClientID string
	// ReqID is the client's id for this edit, echoed in the committed
	// operation. Ids of one client must increase (revision.CompareReqID).
	ReqID string
	// Base is the revision the client's view was at when it made the edit;
	// it matters only when HasBase is set (see Policy).
	Base    revision.Rev
	HasBase bool
	// Epoch, if set, must be the document's epoch; otherwise the edit is
	// refused with CodeEpoch.
	Epoch revision.Epoch
	// Patch is a JSON Patch (an array) or a JSON Merge Patch (an object).
	Patch json.RawMessage
}

// Commit applies an edit to a document, creating the document if it does
// not exist, and returns the committed operation once it is durable in the
// store. The document's state is decided in arrival order under its lock;
// the fsync is shared with other edits (group commit) and not held under
// the lock.
//
// A refused edit returns an *Error (see the Code constants) carrying the
// document, the request id and the head revision; the refusal is recorded
// in the client's watermark (durably, before Commit returns) so a resent id
// is answered CodeDuplicate.
//
// ctx bounds the wait for the document to load and for the write: if it
// ends first, Commit returns ctx.Err() and the edit may still commit.
func (e *Engine) Commit(ctx context.Context, doc string, ed Edit) (*Op, error) {
	op, _, err := e.commit(ctx, doc, ed, false)
	return op, err
}

// CommitInEpoch is Commit that also returns the epoch the operation was
// committed in. Asking Head afterwards is not the same: a deletion, or a
// deletion and a new epoch, decided after the edit and before Head reads
// it would name an epoch the operation is not part of.
func (e *Engine) CommitInEpoch(ctx context.Context, doc string, ed Edit) (*Op, revision.Epoch, error) {
	return e.commit(ctx, doc, ed, true)
}

func (e *Engine) commit(ctx context.Context, doc string, ed Edit, withEpoch bool) (*Op, revision.Epoch, error) {
	w := waiterPool.Get().(*waiter)
	w.epoch = ""
	p := &pending{then: w.done, holdDuplicate: e}
	if withEpoch {
		p.epochOut = &w.epoch
	}
	e.commitPending(ctx, doc, ed, p)
	select {
	case r := <-w.ch:
		epoch := w.epoch
		waiterPool.Put(w)
		return r.op, epoch, r.err
	case <-ctx.Done():
		// The callback may still fire; w is not reused.
		return nil, "", ctx.Err()
	}
}

// waiter turns CommitAsync's callback back into a call that waits. Waiters
// are pooled: a commit would otherwise allocate a channel and a closure.
type waiter struct {
	ch   chan commitResult
	done func(*Op, error)
	// epoch receives the operation's epoch before done is called
	// (pending.epochOut), for CommitInEpoch.
	epoch revision.Epoch
}

type commitResult struct {
	op  *Op
	err error
}

var waiterPool = sync.Pool{New: func() any {
	w := &waiter{ch: make(chan commitResult, 1)}
	w.done = func(op *Op, err error) { w.ch <- commitResult{op, err} }
	return w
}}

// CommitAsync is Commit without the wait: it decides the edit before it
// returns — so edits submitted one after another by one goroutine are
// decided in that order — and calls then once the decision is durable (or
// failed), exactly once. then is called from the engine's committer
// goroutine, or from the caller's when the edit is refused before reaching
// the store; it must not block. The server uses this to keep reading a
// connection while its edits wait for their fsync.
func (e *Engine) CommitAsync(ctx context.Context, doc string, ed Edit, then func(*Op, error)) {
	e.commitPending(ctx, doc, ed, &pending{then: then, holdDuplicate: e})
}

// commitPending decides ed as p: the pending that will carry the edit's
// records carries the parsed edit too, from here until the decision is
// durable or refused.
func (e *Engine) commitPending(ctx context.Context, doc string, ed Edit, p *pending) {
	if refusal := e.parseEdit(ctx, doc, &ed, p); refusal != nil {
		p.then(nil, refusal)
		return
	}
	e.decideHere(ctx, doc, p, false)
}

// decideHere decides p's edit on this engine — or, unless forwarded (the
// edit came from another engine, or its forward failed), forwards it to
// its document's home while the document is contended (forward.go). It
// returns once the edit is decided or forwarded; p.then is told the
// outcome, as CommitAsync describes.
func (e *Engine) decideHere(ctx context.Context, doc string, p *pending, forwarded bool) {
	ed := &p.edit
	// Nothing keeps the patch once the edit is decided (or fails before
	// it): its memory goes to the next edit's.
	fail := func(err error) {
		ed.releasePatch()
		if e.redecideUnknown(doc, p) {
			return // its home may have decided it: not "not applied"
		}
		err = e.editError(doc, ed.ReqID, err)
		if p.fwdUnknown {
			// Sent to the home, which may have decided it: not "not
			// applied" (CodeUnavailable, CodeClosed).
			err = &Error{Code: CodeInternal, Message: "the outcome of the forwarded edit is unknown", Doc: doc, ReqID: ed.ReqID, Head: e.knownHead(doc), Err: ErrOutcomeUnknown}
		}
		p.then(nil, err)
	}
	for {
		// Again at each look: the document may have been dropped with
		// edits of the same client still forwarded from it (breakDocument).
		if err := e.waitUnsettledBefore(ctx, doc, ed); err != nil {
			fail(err)
			return
		}
		d, err := e.acquire(ctx, doc, true)
		if err != nil {
			fail(err)
			return
		}
		if !forwarded && e.opts.Forwarder != nil && ed.idempotent {
			// An edit to forward waits neither for room in d's ring nor
			// for a follow to end (which on a busy document would be
			// most of the time): the home decides it.
			d.mu.Lock()
			r, err := e.routeLocked(ctx, d, p)
			d.mu.Unlock()
			switch {
			case err != nil:
				fail(err)
				return
			case r == routeForwarded:
				return
			case r == routeRetry:
				continue
			}
		}
		if ed.idempotent {
			if err := e.loadWatermark(ctx, d, ed.ClientID); err != nil {
				fail(err)
				return
			}
		}
		d.mu.Lock()
		if err := e.waitForRoomLocked(ctx, d); err != nil {
			d.mu.Unlock()
			fail(err)
			return
		}
		if d.gone || e.shared != nil && ed.idempotent && !d.hasWatermarkLocked(ed.ClientID) {
			// Gone, or a rebase cleared the watermarks while this edit
			// waited (rebase.go): look again.
			d.mu.Unlock()
			continue
		}
		if !afterDecidedLocked(d, p) {
			d.mu.Unlock()
			if retry, refusal := e.checkAfterInStore(ctx, d, p); retry {
				continue
			} else {
				ed.releasePatch()
				p.then(nil, refusal)
				return
			}
		}
		if !forwarded {
			r, err := e.routeLocked(ctx, d, p)
			if err != nil {
				d.mu.Unlock()
				fail(err)
				return
			}
			if r != routeDecide {
				d.mu.Unlock()
				if r == routeRetry {
					continue
				}
				return
			}
		}
		if others := e.wroteLocked(d, p.fwdIn.source()); p.fwdIn != nil {
			p.fwdIn.contended = others
		}
		refusal := e.decideLocked(d, p)
		ed.releasePatch()
		d.mu.Unlock()
		if refusal != nil && p.fwdUnknown && refusal.Code == CodeDuplicate {
			e.resolveLateDecision(ctx, d, p)
			return
		}
		if refusal != nil && !p.answerDuplicateLater(doc, refusal) {
			p.then(nil, refusal) // refused without a store write: a duplicate, or no client id
		}
		return
	}
}

// refused counts a refusal and returns it.
func (e *Engine) refused(err *Error) *Error {
	e.stats.refusals[err.Code].Add(1)
	return err
}

// Refuse records that the server refused a client's request for a reason of
// its own (a rate limit): the client's watermark in doc advances to reqID,
// durably, so the id is never applied later. then receives the document's
// head, or CodeDuplicate if the id was already decided; it is called as in
// CommitAsync.
func (e *Engine) Refuse(ctx context.Context, doc, clientID, reqID string, then func(head revision.Rev, err error)) {
	if clientID == "" || revision.ValidateReqID(reqID) != nil {
		then(0, nil) // nothing to record: the id cannot be resent meaningfully
		return
	}
	p := &pending{edit: parsedEdit{ctx: ctx, Edit: Edit{ClientID: clientID, ReqID: reqID}, idempotent: true, rateLimited: true}}
	p.then = func(_ *Op, err error) {
		var head revision.Rev
		if ee, ok := err.(*Error); ok {
			head = ee.Head
			if ee.Code == CodeRateLimited {
				err = nil // recorded, as asked
			}
		}
		then(head, err)
	}
	e.decideHere(ctx, doc, p, false)
}

// waitForRoomLocked waits while half of d's ring is waiting for its fsync,
// so that the ring always holds every operation that is not yet durable
// (catch-up serves older ones from the store). d.mu is held on entry and on
// return; it is released while waiting.
func (e *Engine) waitForRoomLocked(ctx context.Context, d *document) error {
	limit := revision.Rev(e.opts.RingSize / 2)
	return waitLocked(ctx, d, func() bool { return d.head-d.durable >= limit || d.stale })
}

// waitFreshLocked waits while d is stale: caught up from a shared store,
// or its undone decisions being made again (rebase.go). d.mu is held on
// entry and on return; it is released while waiting.
func (e *Engine) waitFreshLocked(ctx context.Context, d *document) error {
	return waitLocked(ctx, d, func() bool { return d.stale })
}

// waitLocked waits, while d is live, as long as blocked reports true,
// waking at each of d's progress (a write finished, a rebase ended). d.mu
// is held on entry, on return and whenever blocked runs; it is released
// while waiting.
func waitLocked(ctx context.Context, d *document, blocked func() bool) error {
	for !d.gone && blocked() {
		ch := d.progressLocked()
		d.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			d.mu.Lock()
			return ctx.Err()
		}
		d.mu.Lock()
	}
	return nil
}

// hasWatermarkLocked reports whether d's cache holds clientID's
// watermark. d.mu must be held.
func (d *document) hasWatermarkLocked(clientID string) bool {
	_, ok := d.wms[clientID]
	return ok
}

// loadWatermark makes sure d's cache holds clientID's watermark, reading it
// from the store (outside d's lock) on first use.
func (e *Engine) loadWatermark(ctx context.Context, d *document, clientID string) error {
	d.mu.Lock()
	_, ok := d.wms[clientID]
	d.mu.Unlock()
	if ok {
		return nil
	}
	w, err := e.store.Watermark(ctx, d.id, clientID)
	if err != nil {
		return storeError(d.id, "watermark read", err)
	}
	d.mu.Lock()
	// A decision made meanwhile has already filled the entry, from a
	// watermark read by its own caller; keep the newer of the two.
	cur, ok := d.wms[clientID]
	if !ok || revision.CompareReqID(w.ReqID, cur.ReqID) > 0 {
		d.wms[clientID] = w
	}
	if !ok {
		d.rechargeLocked() // one more cached watermark (loadcost.go)
	}
	d.mu.Unlock()
	return nil
}

// decideLocked decides p's edit under d's lock: refuse it, or apply it,
// assign its revision and queue p with its records, to be finished when
// the store has them. A refusal that needs no store write (a duplicate, or
// a client without ids) is returned instead, for the caller to report, and
// p is not queued.
func (e *Engine) decideLocked(d *document, p *pending) *Error {
	ed := &p.edit
	now := e.opts.Now()
	d.lastUsed = now
	if d.absent && !ed.rateLimited { // a refusal alone creates nothing
		e.recreateLocked(d)
	}
	refuseOver := func(code Code, limit Limit, msg string, cause error) *Error {
		refusal := &Error{Code: code, Message: msg, Doc: d.id, ReqID: ed.ReqID, Head: d.head, Limit: limit, Err: cause}
		if !ed.rateLimited {
			e.refused(refusal)
		}
		if !ed.idempotent {
			return refusal
		}
		// The refusal is a decision too: record it durably before
		// reporting it, so the id is never applied later.
		d.wms[ed.ClientID] = d.wms[ed.ClientID].Advance(ed.ReqID)
		p.refusal = refusal
		p.decide = &DecideRecord{Doc: d.id, ClientID: ed.ClientID, ReqID: ed.ReqID, Code: code.String()}
		e.submitLocked(d, p)
		return nil
	}
	refuse := func(code Code, msg string, cause error) *Error {
		return refuseOver(code, LimitNone, msg, cause)
	}

	if ed.idempotent && d.wms[ed.ClientID].Decided(ed.ReqID) {
		dup := &Error{Code: CodeDuplicate, Message: fmt.Sprintf("request %s was already decided (watermark %s)", ed.ReqID, d.wms[ed.ClientID].ReqID), Doc: d.id, ReqID: ed.ReqID, Head: d.head}
		if !ed.rateLimited { // the server counts its own refusals
			e.refused(dup)
		}
		return dup
	}
	if ed.rateLimited {
		return refuse(CodeRateLimited, "refused by the server", nil)
	}
	if ed.parseErr != nil {
		return refuse(CodeInvalid, "invalid patch", ed.parseErr)
	}
	patch := ed.patch
	if n := patch.Len(); n > e.opts.MaxPatchOps {
		return refuseOver(CodeInvalid, LimitPatchOps, fmt.Sprintf("the patch has %d operations, over the limit of %d", n, e.opts.MaxPatchOps), nil)
	}
	if ed.Epoch != "" && ed.Epoch != d.epoch {
		return refuse(CodeEpoch, fmt.Sprintf("epoch %s is not the document's (%s): rejoin", ed.Epoch, d.epoch), nil)
	}
	if ed.HasBase && ed.Base > d.head {
		return refuse(CodeInvalid, fmt.Sprintf("base revision %d is ahead of the head %d", ed.Base, d.head), nil)
	}
	if d.policy == PolicyStrict && (!ed.HasBase || ed.Base != d.head) {
		return refuse(CodeConflict, fmt.Sprintf("policy strict needs the base revision to be the head %d", d.head), nil)
	}

	// d.change is reused from edit to edit: its undo log is only needed
	// until this edit is decided. The budget holds at every operation,
	// so that a patch cannot build something huge or deep on its way to
	// a result that would be refused.
	ch := &d.change
	budget := delta.Budget{Size: d.size, MaxSize: e.opts.MaxDocSize, MaxDepth: e.opts.MaxDocDepth, MaxWork: e.opts.MaxPatchWork}
	if err := patch.ApplyWithin(&d.state, ch, budget); err != nil {
		switch {
		case errors.Is(err, delta.ErrTooLarge):
			return refuseOver(CodeTooLarge, LimitDocSize, "the document would be too large", err)
		case errors.Is(err, delta.ErrTooDeep):
			return refuseOver(CodeInvalid, LimitDocDepth, "the document would nest too deep", err)
		case errors.Is(err, delta.ErrTooMuchWork):
			return refuseOver(CodeInvalid, LimitPatchWork, "the patch does too much work", err)
		case errors.Is(err, delta.ErrPathNotFound) || errors.Is(err, delta.ErrTestFailed):
			return refuse(CodePrecondition, "patch does not apply", err)
		}
		return refuse(CodeInvalid, "patch does not apply", err)
	}
	undo := func(code Code, limit Limit, msg string) *Error {
		ch.Undo(&d.state)
		return refuseOver(code, limit, msg, nil)
	}
	if _, ok := d.state.(map[string]any); !ok {
		return undo(CodeInvalid, LimitNone, "a document's root must stay a JSON object")
	}
	if d.size+ch.SizeDelta > e.opts.MaxDocSize {
		return undo(CodeTooLarge, LimitDocSize, fmt.Sprintf("the document would be %d bytes, over the limit of %d", d.size+ch.SizeDelta, e.opts.MaxDocSize))
	}
	if ed.HasBase && ed.Base < d.head && d.policy == PolicyRebase {
		if code, msg := e.rebaseCheckLocked(d, ed.Base, ed.ClientID, ch.Paths); msg != "" {
			return undo(code, LimitNone, msg)
		}
	}
	if hook := e.opts.Validate; hook != nil {
		// The hook gets a copy: handing it the pending's Edit would let
		// it change what a decision made again would see.
		edc := ed.Edit
		if err := hook(ed.ctx, &Validation{Doc: d.id, Edit: &edc, State: d.state, Paths: ch.Paths, Checked: d.hookChecked}); err != nil {
			ch.Undo(&d.state)
			var ee *Error
			if errors.As(err, &ee) {
				return refuse(ee.Code, ee.Message, ee.Err)
			}
			return refuse(CodeRejected, err.Error(), nil)
		}
		d.hookChecked = true
	}

	if ed.at == 0 {
		ed.at = now.UnixMilli()
	}
	d.head++
	d.size += ch.SizeDelta
	op := &Op{
		Rev:         d.head,
		Kind:        ed.kind,
		Payload:     ed.Patch,
		ClientID:    ed.ClientID,
		ClientReqID: ed.ReqID,
		Time:        ed.at,
	}
	d.push(op, ch.Paths, d.nsubs.Load() > 0)
	ch.Reset() // the edit stays: drop the undo log's hold on old values
	if ed.idempotent {
		d.wms[ed.ClientID] = d.wms[ed.ClientID].Advance(ed.ReqID)
	}
	p.app = AppendRecord{Doc: d.id, Epoch: d.epoch, Op: op}
	p.append = &p.app
	d.sinceSnapshot++
	if d.sinceSnapshot >= e.opts.SnapshotInterval {
		if state, err := d.snapshotLocked(); err == nil {
			p.snapshot = &SnapshotRecord{Doc: d.id, Epoch: d.epoch, Rev: d.head, State: state}
			d.sinceSnapshot = 0
		} else {
			e.log.Error("snapshot encoding failed", "doc", d.id, "err", err)
		}
	}
	e.submitLocked(d, p)
	return nil
}

// rebaseCheckLocked decides whether an edit based on base may be applied
// at the head: only if no other client's operation after base touched a
// path overlapping the edit's. The client's own operations do not count:
// it made this edit on top of them (optimistically, before they came
// back), so a client may pipeline edits of one path. It returns a refusal
// code and message, or "" to apply.
func (e *Engine) rebaseCheckLocked(d *document, base revision.Rev, clientID string, paths delta.PathSet) (Code, string) {
	if uint64(base)+1 < d.ring.First() {
		return CodeConflict, fmt.Sprintf("base revision %d is too old to rebase on (oldest in memory %d): rebase on the head %d", base, d.ring.First(), d.head)
	}
	var clash revision.Rev
	d.ring.Range(uint64(base)+1, uint64(d.head), func(seq uint64, en entry) bool {
		if (clientID == "" || en.op.ClientID != clientID) && en.paths.Overlaps(paths) {
			clash = revision.Rev(seq)
			return false
		}
		return true
	})
	if clash != 0 {
		return CodeConflict, fmt.Sprintf("revision %d changed a path this edit touches: rebase on the head %d", clash, d.head)
	}
	return 0, ""
}

// recreateLocked brings back a document deleted while in memory: it exists
// again, empty, under the epoch the deletion chose. d.mu must be held.
func (e *Engine) recreateLocked(d *document) {
	d.absent = false
	e.submitLocked(d, &pending{create: &CreateRecord{Doc: d.id, Epoch: d.epoch, Time: e.opts.Now().UnixMilli()}})
}

// compactJSON returns a compact copy of raw (the caller may reuse raw).
func compactJSON(raw json.RawMessage) (json.RawMessage, error) {
	if !jsonkit.HasSpace(raw) {
		return bytes.Clone(raw), nil
	}
	var b bytes.Buffer
	b.Grow(len(raw))
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
