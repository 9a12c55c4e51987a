package syncd

import (
	"context"
	"time"
)

// A duplicate is answered after the decision that made it one.
//
// A client resends an edit under the same request id only when it does not
// know the edit's outcome (PROTOCOL.md §6.8), and takes CodeDuplicate
// ("already decided") for a refusal unless it has seen the edit's
// operation. So the answer must not overtake that operation: when the
// earlier decision is still in flight here (decided, not yet durable, so
// its operation not yet delivered), or, on a shared store, is in the log
// but not yet followed here (this engine learnt the watermark from a store
// read, or another instance's decision of the edit landed after the
// client's JOIN: a node that died with the edit's append in flight, whose
// proposal the next stream leader committed), the client would be told
// "refused" about an edit that is applied, and its operation would arrive
// as someone else's. Instead the duplicate waits until this engine's copy
// of the document has delivered everything decided before it, and, on a
// shared store, has caught up with the log's head. "Delivered", not just
// "completed": the committer and the follow mark writes completed (or
// followed) while holding subsMu until they have handed them to every
// subscriber, and the wait ends by taking subsMu (afterDeliveries), so the
// client's connection gets the operation first.

// duplicateWait bounds how long a duplicate's answer waits for the
// decisions before it (a store that stays unreachable): past it, the
// answer goes out as it is.
const duplicateWait = 30 * time.Second

// answerDuplicateLater reports a CodeDuplicate refusal of p, a client's
// edit of doc, once the decisions before it are delivered (see above), and
// reports whether it took the answer; any other outcome is the caller's
// to report.
func (p *pending) answerDuplicateLater(doc string, refusal *Error) bool {
	e := p.holdDuplicate
	if e == nil || refusal.Code != CodeDuplicate || p.then == nil {
		return false
	}
	// then must not block its caller (the committer, or a decider that
	// owes the next edit its turn).
	go func() {
		e.waitDecisionsDelivered(doc)
		p.then(nil, refusal)
	}()
	return true
}

// afterDeliveries returns once the deliveries to d's subscribers that were
// under way are done: the committer and the follow hold subsMu from before
// they make writes visible as completed (or followed) until those writes
// are delivered.
func afterDeliveries(d *document) {
	d.subsMu.Lock()
	d.subsMu.Unlock() //nolint:staticcheck // an empty critical section: a barrier
}

// waitDecisionsDelivered waits, bounded by duplicateWait and the engine's
// life, until the writes doc had submitted when it was called are finished
// and, on a shared store, doc has caught up with the log's head (retrying
// while the store fails: a leaderless stream answers nothing for seconds).
func (e *Engine) waitDecisionsDelivered(doc string) {
	e.mu.Lock()
	d := e.docs[doc]
	e.mu.Unlock()
	if d == nil {
		return // not loaded: nothing in flight, and nobody joined here
	}
	ctx, cancel := context.WithTimeout(e.ctx, duplicateWait)
	defer cancel()
	select {
	case <-d.ready:
	case <-ctx.Done():
		return
	}
	d.mu.Lock()
	target, gen := d.submitted, d.gen
	d.mu.Unlock()
	if err := e.waitCompleted(ctx, d, target, gen); err != nil && ctx.Err() != nil {
		return
	}
	defer afterDeliveries(d)
	if e.shared == nil {
		return
	}
	for delay := 20 * time.Millisecond; e.freshen(ctx, d) != nil; delay = min(2*delay, time.Second) {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
	}
}
