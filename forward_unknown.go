package syncd

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deltasync/syncd/revision"
)

// A forward whose outcome is unknown is never answered "not applied".
//
// A forwarded edit whose reply did not come in time (p.fwdUnknown) may be
// decided at its home at any moment until the home's write settles: the
// home may be blocked on a stream that lost its leader, and its append be
// committed by the next one seconds later. This engine then decides the
// edit itself (decideFallback), and that attempt can fail too: its
// document breaks on a failed write, or the store cannot be read while
// the stream has no leader. Answering such a failure CodeUnavailable
// ("not applied") would make the client send the edit again under a new
// id, and apply it twice once the home's write lands. So the engine
// decides it again instead, after a pause, from a fresh load of the
// document: the store's watermark then says whether the home's decision
// landed (and resolveLateDecision answers with it), or this engine
// decides and writes it (and the store's de-duplication by client request
// id refuses a later copy of the home's). Only when the engine closes, or
// the store stays unusable for unknownRetryFor, is the outcome reported
// unknown (decideHere's fail; the server then closes the client's
// connection with 1013, and the client settles the edit on reconnect).
//
// Order. From the moment a forward's outcome is unknown until the edit is
// answered, the same client's later edits of the document wait behind it
// (decideHere), and several such edits are decided in request id order: a
// later edit decided first would move the client's watermark past it, and
// it would be refused as a duplicate, lost through no fault of the client.

// unknownRetryFor bounds how long an edit of unknown outcome is decided
// again: about a stream's de-duplication window, far longer than an
// election.
const unknownRetryFor = 2 * time.Minute

// redecideUnknown decides p again later, in doc, if p's outcome is
// unknown (see above) and there is still time, and reports whether it
// will; otherwise the caller answers p.
func (e *Engine) redecideUnknown(doc string, p *pending) bool {
	if !p.fwdUnknown || e.ctx.Err() != nil {
		return false
	}
	now := time.Now()
	if p.unknownSince.IsZero() {
		p.unknownSince = now
	}
	if now.Sub(p.unknownSince) > unknownRetryFor {
		return false
	}
	e.markUnsettled(doc, p)
	delay := min(50*time.Millisecond<<min(p.unknownRetries, 6), 2*time.Second)
	p.unknownRetries++
	e.stats.forwardsRedecided.Add(1)
	go func() {
		select {
		case <-time.After(delay):
		case <-e.ctx.Done(): // decideHere fails at once, and answers "unknown"
		}
		p.doc, p.err, p.refusal = nil, nil, nil
		p.create, p.append, p.app, p.snapshot, p.decide = nil, nil, AppendRecord{}, nil, nil
		p.edit.ctx = context.WithoutCancel(p.edit.ctx) // the decision is owed to the client
		p.edit.reparse()
		e.decideHere(p.edit.ctx, doc, p, true)
	}()
	return true
}

// markUnsettled records p, an edit of doc whose outcome is unknown, until
// its outcome is reported: the same client's later edits of doc wait
// behind it (see "Order" above). Marking it again does nothing.
func (e *Engine) markUnsettled(doc string, p *pending) {
	if p.unsettled || !p.edit.idempotent {
		return
	}
	p.unsettled = true
	e.unsettled.add(doc, p)
	then := p.then
	p.then = func(op *Op, err error) {
		e.unsettled.remove(doc, p)
		if then != nil {
			then(op, err)
		}
	}
}

// unsettledEdits are the request ids of edits of unknown outcome being
// decided again, per document and client.
type unsettledEdits struct {
	n  atomic.Int32 // how many: the common case, none, costs one load
	mu sync.Mutex
	m  map[unsettledKey][]string // request ids, ascending
}

type unsettledKey struct{ doc, client string }

func (u *unsettledEdits) add(doc string, p *pending) {
	k := unsettledKey{doc, p.edit.ClientID}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = make(map[unsettledKey][]string)
	}
	ids := u.m[k]
	i, found := slices.BinarySearchFunc(ids, p.edit.ReqID, revision.CompareReqID)
	if !found {
		u.m[k] = slices.Insert(ids, i, p.edit.ReqID)
		u.n.Add(1)
	}
}

func (u *unsettledEdits) remove(doc string, p *pending) {
	k := unsettledKey{doc, p.edit.ClientID}
	u.mu.Lock()
	defer u.mu.Unlock()
	ids := u.m[k]
	if i, found := slices.BinarySearchFunc(ids, p.edit.ReqID, revision.CompareReqID); found {
		ids = slices.Delete(ids, i, i+1)
		u.n.Add(-1)
	}
	if len(ids) == 0 {
		delete(u.m, k)
	} else {
		u.m[k] = ids
	}
}

// before reports whether client has an edit of doc of unknown outcome
// being decided again whose request id is below reqID.
func (u *unsettledEdits) before(doc, client, reqID string) bool {
	if u.n.Load() == 0 {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	ids := u.m[unsettledKey{doc, client}]
	return len(ids) > 0 && revision.CompareReqID(ids[0], reqID) < 0
}

// waitUnsettledBefore waits, bounded by ctx and unknownRetryFor, until the
// same client has no edit of doc of unknown outcome with a lower request
// id still to be decided (see "Order" above).
func (e *Engine) waitUnsettledBefore(ctx context.Context, doc string, ed *parsedEdit) error {
	if !ed.idempotent || !e.unsettled.before(doc, ed.ClientID, ed.ReqID) {
		return nil
	}
	deadline := time.Now().Add(unknownRetryFor)
	for e.unsettled.before(doc, ed.ClientID, ed.ReqID) && time.Now().Before(deadline) {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		case <-e.ctx.Done():
			return nil // closing: the earlier ones are being answered
		}
	}
	return nil
}
