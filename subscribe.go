package syncd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deltasync/syncd/revision"
)

// SubscribeRequest says who subscribes and what they already have.
type SubscribeRequest struct {
	// ClientID, if set, makes the catch-up carry the client's watermark
	// (Event.AckedReqID), and keeps the client's own room messages from
	// this subscription (Engine.PublishRoom).
	ClientID string
	// Have is the client's position; the zero Position asks for a
	// snapshot. A revision without an epoch cannot be trusted to belong to
	// this history: it gets a snapshot after a Gap of reason epoch.
	Have revision.Position
	// Compact lets a catch-up whose operations are larger than a snapshot
	// combine runs of other clients' operations into one each
	// (Op.FirstRev), so that deltas can still be the smaller answer. Set
	// it only for subscribers that understand combined operations (the
	// syncd/1 protocol's JOIN answer does, PROTOCOL.md §5.3); live events
	// are never compacted.
	Compact bool
	// MayCreate, if set, is called when the document does not exist and
	// this subscription would create it, before anything is created: an
	// error refuses the subscription, is returned as it is, and leaves
	// the document not existing. A server rate-limits creation with it.
	// It runs on the subscribing goroutine, once for each creation the
	// call would make (one, unless the document is deleted meanwhile).
	MayCreate func() error
}

// Subscription is a live subscription to one document. Close ends it.
type Subscription struct {
	e        *Engine
	d        *document
	sink     Sink
	clientID string // SubscribeRequest.ClientID

	// Guarded by d.subsMu.
	last  revision.Rev // newest revision delivered (or covered by the catch-up)
	ready bool         // catch-up delivered; live events go straight to the sink
	held  []*Event     // live events that arrived during the catch-up
	// epoch is the history the subscriber follows: its catch-up's, then
	// each reset's.
	epoch   revision.Epoch
	heldOps int
	closed  bool
}

// maxHeldRetries bounds how often Subscribe starts again after the
// document was reloaded under it.
const maxHeldRetries = 3

// Subscribe joins a document, creating it if it does not exist. It first
// delivers the catch-up to sink, as one event — deltas after req.Have
// (from memory or the store), or a snapshot, with its Gap when deltas
// were asked for but not possible or larger — then every operation
// committed after it, in order, with no gap and no duplicate, then the
// room's presence. Presence changes and room messages (PublishRoom) come
// in the same stream as the operations, in the order they happened. The
// catch-up is delivered before Subscribe returns, on the caller's
// goroutine; live events come from the engine's committer (presence and
// room messages from the goroutine that set or published them).
//
// Every operation delivered is durable. A subscriber that cannot be kept current
// gets EventResync and is dropped: subscribe again from the last revision
// received.
func (e *Engine) Subscribe(ctx context.Context, doc string, req SubscribeRequest, sink Sink) (*Subscription, error) {
	if sink == nil {
		return nil, errors.New("syncd: Subscribe needs a sink")
	}
	var lastErr error
	tries := maxHeldRetries
	if e.shared != nil {
		tries = maxSharedRetries // other writers' conflicts restart joins too
	}
	for attempt := 0; attempt < tries; attempt++ {
		s, err := e.subscribeOnce(ctx, doc, req, sink)
		if err == nil || !errors.Is(err, errRetry) {
			return s, err
		}
		lastErr = err
		if e.shared != nil && attempt >= 2 {
			// Other writers keep undoing what this join waited for (a
			// crowd joining a new document on every instance at once):
			// let the rebases settle rather than spin.
			select {
			case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	return nil, &Error{Code: CodeUnavailable, Message: fmt.Sprintf("document kept failing while joining (%d attempts; the last: %v)", tries, lastErr), Doc: doc, Err: lastErr}
}

// maxSharedRetries is maxHeldRetries on a shared store, where a conflict
// with another writer also makes a join start again (from the third
// attempt after a growing pause: about 3 s in all).
const maxSharedRetries = 35

var errRetry = errors.New("syncd: document reloaded, retry")

func (e *Engine) subscribeOnce(ctx context.Context, doc string, req SubscribeRequest, sink Sink) (*Subscription, error) {
	d, err := e.acquireFor(ctx, doc, true, req.MayCreate)
	if err != nil {
		return nil, err
	}
	// Watch d before reading the store's head: what another writer
	// stores after that read reaches d only through the watch, which
	// does not tell of what was stored before it started.
	d.mu.Lock()
	if !d.gone {
		d.subsMu.Lock()
		e.watchLocked(d)
		d.subsMu.Unlock()
	}
	d.mu.Unlock()
	// On a shared store, the answer must hold everything any writer
	// acknowledged before now, and the watermark must be the store's.
	if err := e.freshen(ctx, d); err != nil {
		return nil, err
	}
	if req.ClientID != "" {
		if err := e.loadWatermark(ctx, d, req.ClientID); err != nil {
			return nil, err
		}
		if err := e.refreshWatermark(ctx, d, req.ClientID); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	if err := e.waitFreshLocked(ctx, d); err != nil {
		d.mu.Unlock()
		return nil, err
	}
	if d.gone {
		d.mu.Unlock()
		return nil, fmt.Errorf("%w: unloaded while joining", errRetry)
	}
	if d.absent {
		e.recreateLocked(d)
	}
	d.lastUsed = e.opts.Now()
	s := &Subscription{e: e, d: d, sink: sink, clientID: req.ClientID}
	cu, err := e.planLocked(d, req)
	if err != nil {
		d.mu.Unlock()
		return nil, err
	}
	d.subsMu.Lock()
	s.last, s.epoch = d.head, cu.epoch
	d.setSubsLocked(append(d.subs, s))
	e.watchLocked(d)
	d.subsMu.Unlock()
	d.mu.Unlock()

	events, err := e.completeCatchUp(ctx, d, cu)
	if err == nil {
		err = e.waitCompleted(ctx, d, cu.target, cu.gen)
	}
	if err == nil {
		err = e.addOutcomes(ctx, d.id, cu, events)
	}
	if err != nil {
		s.Close()
		return nil, err
	}

	d.subsMu.Lock()
	defer d.subsMu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("%w: the subscription was dropped during its catch-up", errRetry)
	}
	for _, ev := range events {
		sink(ev)
	}
	s.last = cu.end
	s.ready = true
	held := s.held
	s.held, s.heldOps = nil, 0
	for _, ev := range held {
		s.deliverLiveLocked(ev)
	}
	s.sink(&Event{Kind: EventPresence, Doc: d.id, Epoch: cu.epoch, Presence: presenceListLocked(d), Full: true})
	return s, nil
}

// Close ends the subscription; no event is delivered after it returns. It
// is safe to call twice.
func (s *Subscription) Close() {
	d := s.d
	d.subsMu.Lock()
	defer d.subsMu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for i, x := range d.subs {
		if x == s {
			last := len(d.subs) - 1
			d.subs[i] = d.subs[last]
			d.subs[last] = nil
			d.setSubsLocked(d.subs[:last])
			break
		}
	}
}

// Doc returns the subscribed document's id.
func (s *Subscription) Doc() string { return s.d.id }

// maxHeldOps bounds the live operations held for a subscriber while its
// catch-up is read; past it, the subscriber is resynced instead.
func (e *Engine) maxHeldOps() int { return e.opts.RingSize }

// deliverLiveLocked hands a live event to s, or holds it during the
// catch-up. d.subsMu must be held.
func (s *Subscription) deliverLiveLocked(ev *Event) {
	if s.closed {
		return
	}
	if ev.Epoch != s.epoch {
		// Operations of another history: of the epoch a deletion ended,
		// written after a subscriber of the new one planned its
		// catch-up. Nothing of them belongs in its stream; start again.
		s.dropLocked(ResyncOverflow)
		return
	}
	if !s.ready {
		if s.heldOps+len(ev.Ops) > s.e.maxHeldOps() {
			s.dropLocked(ResyncOverflow)
			return
		}
		s.held = append(s.held, ev)
		s.heldOps += len(ev.Ops)
		return
	}
	if ev.ToRev <= s.last {
		return // covered by the catch-up
	}
	if ev.FromRev < s.last {
		// The catch-up was a snapshot newer than this event's start:
		// deliver only the rest (rare, so a private copy is fine).
		trimmed := &Event{Kind: ev.Kind, Doc: ev.Doc, Epoch: ev.Epoch, FromRev: s.last, ToRev: ev.ToRev, Live: true}
		for _, op := range ev.Ops {
			if op.Rev > s.last {
				trimmed.Ops = append(trimmed.Ops, op)
			}
		}
		ev = trimmed
	}
	s.sink(ev)
	s.last = ev.ToRev
}

// deliverResetLocked tells s that its document began a new epoch.
func (s *Subscription) deliverResetLocked(ev *Event) {
	if s.closed {
		return
	}
	if !s.ready {
		// The subscriber's catch-up belongs to the old epoch; let it
		// start again.
		s.dropLocked(ResyncOverflow)
		return
	}
	s.sink(ev)
	s.last, s.epoch = ev.Rev, ev.Epoch
}

// dropLocked ends s with EventResync. d.subsMu must be held; the caller
// removes s from d.subs if it is still there.
func (s *Subscription) dropLocked(reason ResyncReason) {
	if s.closed {
		return
	}
	s.closed = true
	d := s.d
	for i, x := range d.subs {
		if x == s {
			last := len(d.subs) - 1
			d.subs[i] = d.subs[last]
			d.subs[last] = nil
			d.setSubsLocked(d.subs[:last])
			break
		}
	}
	if s.ready {
		s.sink(&Event{Kind: EventResync, Doc: d.id, Reason: reason})
	}
}

// waitCompleted waits until every write queued for d before target is
// finished, and fails with errRetry if one of them failed.
//
// On a shared store it also fails with errRetry when a conflict undid
// decisions meanwhile (d.gen moved from gen): what the caller planned may
// hold operations that were decided again at other revisions.
func (e *Engine) waitCompleted(ctx context.Context, d *document, target, gen uint64) error {
	d.mu.Lock()
	if err := waitLocked(ctx, d, func() bool { return d.completed < target && d.gen == gen }); err != nil {
		d.mu.Unlock()
		return err
	}
	gone, redone := d.gone, d.gen != gen
	d.mu.Unlock()
	switch {
	case gone:
		return fmt.Errorf("%w: unloaded before the writes it waited for finished", errRetry)
	case redone:
		return fmt.Errorf("%w: a conflict with another writer undid decisions it waited for", errRetry)
	}
	return nil
}
