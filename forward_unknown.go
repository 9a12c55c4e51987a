package syncd

import (
	"context"
	"time"
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
// the store stays unusable for unknownRetryFor, is the client told that
// the outcome is unknown (decideHere's fail).

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
