package syncd

import (
	"context"
	"errors"
	"fmt"

	"github.com/deltasync/syncd/revision"
)

// catchUp is a catch-up being prepared: planned under the document's lock,
// completed (perhaps with store reads and compaction) outside it.
type catchUp struct {
	epoch   revision.Epoch
	have    revision.Position
	head    revision.Rev // the head when planned
	target  uint64       // d.submitted when planned: what must be durable before delivery
	gen     uint64       // d.gen when planned (see waitCompleted)
	end     revision.Rev // the revision the catch-up brings the subscriber to
	acked   string       // the client's watermark at end
	client  string
	compact bool // SubscribeRequest.Compact

	events []*Event // the answer, when decided under the lock

	// Otherwise (later): operations (storeAfter, storeTo] from the store,
	// if any, then ringOps from memory, compacted when larger than the
	// snapshot; snapSize decides whether a snapshot is smaller. farBehind:
	// the store's operations are more than readLimit allows by their
	// count alone, so only whether they are still held is asked.
	later      bool
	farBehind  bool
	storeAfter revision.Rev
	storeTo    revision.Rev
	ringOps    []*Op
	snapSize   int
}

// planLocked decides a catch-up from d's memory, which answers everything
// but a client older than the ring or deltas that need compacting; those
// are left to completeCatchUp. d.mu must be held.
func (e *Engine) planLocked(d *document, req SubscribeRequest) (*catchUp, error) {
	cu := &catchUp{
		epoch:    d.epoch,
		have:     req.Have,
		head:     d.head,
		target:   d.submitted,
		gen:      d.gen,
		end:      d.head,
		client:   req.ClientID,
		compact:  req.Compact,
		snapSize: d.size,
	}
	if req.ClientID != "" {
		cu.acked = d.wms[req.ClientID].ReqID
	}
	have := req.Have
	// Every operation takes at least opOverhead bytes: so many are more
	// than a catch-up may read, wherever they are.
	farBehind := have.Rev < d.head && uint64(d.head-have.Rev)*opOverhead > uint64(cu.readLimit())
	switch {
	case !have.Known() && have.Rev == 0:
		return cu, e.snapshotLocked(d, cu, nil)
	case have.Epoch != d.epoch || have.Rev > d.head:
		return cu, e.snapshotLocked(d, cu, &Gap{Reason: GapEpoch})
	case uint64(have.Rev)+1 >= d.ring.First():
		if farBehind {
			return cu, e.snapshotLocked(d, cu, &Gap{Reason: GapSmaller})
		}
		switch size := d.sizeAfter(have.Rev); {
		case size <= d.size:
			e.stats.catchUpDeltas.Add(1)
			cu.events = deltasEvent(d.id, cu, ringOps(d, have.Rev))
		case size > cu.readLimit():
			return cu, e.snapshotLocked(d, cu, &Gap{Reason: GapSmaller})
		default:
			if combined, ok := cu.fromMembersLocked(d); ok {
				if combined == nil {
					return cu, e.snapshotLocked(d, cu, &Gap{Reason: GapSmaller})
				}
				e.stats.catchUpDeltas.Add(1)
				e.stats.catchUpCompacted.Add(1)
				cu.events = deltasEvent(d.id, cu, []*Op{combined})
				return cu, nil
			}
			cu.later, cu.storeAfter, cu.storeTo, cu.ringOps = true, have.Rev, have.Rev, ringOps(d, have.Rev)
		}
		return cu, nil
	}
	cu.later, cu.farBehind = true, farBehind
	cu.storeAfter = have.Rev
	cu.storeTo = revision.Rev(d.ring.First() - 1)
	if !farBehind { // else the answer is a snapshot: the ring's operations are not needed
		cu.ringOps = ringOps(d, cu.storeTo)
	}
	return cu, nil
}

// fromMembersLocked answers a compacted catch-up whose operations are all
// in the ring from the document's member index when it can (ok): one combined
// operation holding the newest value of every member changed since the
// client's revision, at a cost per member changed rather than per
// operation, or nil when even that is larger than the snapshot. It cannot
// when the client's own operations are among them (they must travel
// separately, PROTOCOL.md §6.8) or when the index does not know (a JSON
// Patch among ops, a member rewritten in a way its newest value does not
// wholly hide): compactOps then composes the operations themselves.
// d.mu must be held.
func (cu *catchUp) fromMembersLocked(d *document) (combined *Op, ok bool) {
	if !cu.compact || d.head-cu.have.Rev < 2 {
		return nil, false
	}
	if cu.acked != "" && cu.client != "" && cu.hasOwn(ringOps(d, cu.have.Rev)) {
		return nil, false
	}
	payload, ok, err := d.members.Changed(uint64(cu.have.Rev), nil, cu.snapSize-opOverhead-firstRevOverhead)
	switch {
	case err != nil: // over the limit: the snapshot is smaller
		return nil, true
	case !ok:
		return nil, false
	}
	last, _ := d.ring.Get(uint64(d.head))
	combined = &Op{Rev: d.head, FirstRev: cu.have.Rev + 1, Kind: OpMerge, Payload: payload, Time: last.op.Time}
	if combined.EncodedSize() > cu.snapSize {
		return nil, true
	}
	return combined, true
}

// ringOps returns the operations after rev that d's ring holds.
func ringOps(d *document, after revision.Rev) []*Op {
	if uint64(after) >= d.ring.Next()-1 {
		return nil
	}
	ops := make([]*Op, 0, uint64(d.head-after))
	d.ring.Range(uint64(after)+1, uint64(d.head), func(_ uint64, en entry) bool {
		ops = append(ops, en.op)
		return true
	})
	return ops
}

func opsSize(ops []*Op) int {
	n := 0
	for _, op := range ops {
		n += op.EncodedSize()
	}
	return n
}

// snapshotLocked makes cu a snapshot of d's head, after gap (nil when the
// client asked for a snapshot). d.mu must be held.
func (e *Engine) snapshotLocked(d *document, cu *catchUp, gap *Gap) error {
	state, err := d.snapshotLocked()
	if err != nil {
		return &Error{Code: CodeInternal, Message: "snapshot encoding failed", Doc: d.id, Err: err}
	}
	cu.head, cu.end, cu.target = d.head, d.head, d.submitted
	if cu.client != "" {
		cu.acked = d.wms[cu.client].ReqID
	}
	if gap != nil {
		gap.ExpectedRev = cu.have.Rev
		gap.ServerRev = d.head
		gap.ResumeFrom = d.head
		gap.BufferFirstRev = revision.Rev(d.ring.First())
		e.stats.catchUpGap.Add(1)
	} else {
		e.stats.catchUpSnapshot.Add(1)
	}
	cu.events = []*Event{{
		Kind:        EventSnapshot,
		Doc:         d.id,
		Epoch:       d.epoch,
		Rev:         d.head,
		State:       state,
		Gap:         gap,
		CatchUpDone: true,
		AckedReqID:  cu.acked,
	}}
	return nil
}

// completeCatchUp finishes a plan: it reads the store and compacts when
// the plan needs it, outside the document's lock, and falls back to a
// snapshot when the operations are gone or, even compacted, larger than
// the document.
func (e *Engine) completeCatchUp(ctx context.Context, d *document, cu *catchUp) ([]*Event, error) {
	if !cu.later {
		return cu.events, nil
	}
	if cu.farBehind {
		// Too many to read; but a client whose operations are no longer
		// held is told so (reason retention), as if they had been read.
		_, err := e.store.ReadOps(ctx, d.id, cu.epoch, cu.storeAfter, 0)
		switch {
		case errors.Is(err, ErrGone):
			return e.snapshotLater(d, cu, GapRetention)
		case errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("%w: the epoch is gone from the store", errRetry)
		case err != nil:
			return nil, storeError(d.id, "read", err)
		}
		return e.snapshotLater(d, cu, GapSmaller)
	}
	var ops []*Op
	size := opsSize(cu.ringOps)
	after := cu.storeAfter
	for after < cu.storeTo {
		limit := e.opts.CatchUpPage
		if n := int(cu.storeTo - after); n < limit {
			limit = n
		}
		page, err := e.store.ReadOps(ctx, d.id, cu.epoch, after, limit)
		switch {
		case errors.Is(err, ErrGone):
			return e.snapshotLater(d, cu, GapRetention)
		case errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("%w: deleted meanwhile", errRetry)
		case err != nil:
			return nil, storeError(d.id, "read", err)
		case len(page) == 0 || page[0].Rev != after+1:
			return nil, &Error{Code: CodeInternal, Message: "store log does not continue where asked", Doc: d.id}
		}
		for _, op := range page {
			if op.Rev > cu.storeTo {
				break
			}
			size += op.EncodedSize()
			ops = append(ops, op)
			after = op.Rev
		}
		// The work a catch-up does is bounded by the document's size:
		// past readLimit, a snapshot costs less.
		if size > cu.readLimit() {
			return e.snapshotLater(d, cu, GapSmaller)
		}
	}
	fromStore := len(ops) > 0
	ops = append(ops, cu.ringOps...)
	ops, compacted := cu.choose(ops, size)
	if ops == nil {
		return e.snapshotLater(d, cu, GapSmaller)
	}
	if fromStore {
		e.stats.catchUpStore.Add(1)
	} else {
		e.stats.catchUpDeltas.Add(1)
	}
	if compacted {
		e.stats.catchUpCompacted.Add(1)
	}
	return deltasEvent(d.id, cu, ops), nil
}

// choose returns the operations to send for ops, whose estimated size is
// size: ops as they are when no larger than the snapshot, else ops
// compacted (compacted true) when that is, or when they hold the client's
// own operations (see mustSeeOwn); nil when the snapshot should be sent.
func (cu *catchUp) choose(ops []*Op, size int) (_ []*Op, compacted bool) {
	if size <= cu.snapSize {
		return ops, false
	}
	if size > cu.readLimit() {
		return nil, false
	}
	if cu.compact {
		// Compacted deltas are sent only when no larger than the
		// snapshot, or than maxOwnDeltas when the client must see its
		// own operations: past that, stop compacting.
		limit := cu.snapSize
		if cu.hasOwn(ops) {
			limit = maxOwnDeltas(cu.snapSize)
		}
		c, err := compactOps(ops, cu.client, limit)
		if err == nil && c == nil {
			return nil, false
		}
		if err == nil && len(c) < len(ops) {
			ops, size, compacted = c, opsSize(c), true
		}
	}
	if size <= cu.snapSize || cu.mustSeeOwn(ops, size) {
		return ops, compacted
	}
	return nil, false
}

// snapshotLater turns cu into a snapshot of the current head, after a store
// read or compaction showed deltas would not do.
func (e *Engine) snapshotLater(d *document, cu *catchUp, reason GapReason) ([]*Event, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gone || d.epoch != cu.epoch {
		return nil, fmt.Errorf("%w: unloaded or a new epoch before the snapshot", errRetry)
	}
	if err := e.snapshotLocked(d, cu, &Gap{Reason: reason}); err != nil {
		return nil, err
	}
	return cu.events, nil
}

// deltasEvent is the catch-up of ops: one event, however many operations
// (their size is bounded by readLimit, so the subscriber gets its catch-up
// whole rather than joining pages back together), carrying the client's
// watermark. No operations give an empty event: the answer to a client
// already at the head.
func deltasEvent(doc string, cu *catchUp, ops []*Op) []*Event {
	ev := &Event{Kind: EventDeltas, Doc: doc, Epoch: cu.epoch, Ops: ops, CatchUpDone: true, AckedReqID: cu.acked}
	if len(ops) > 0 {
		ev.FromRev, ev.ToRev = ops[0].First()-1, ops[len(ops)-1].Rev
	} else {
		ev.FromRev, ev.ToRev = cu.have.Rev, cu.have.Rev
	}
	return []*Event{ev}
}

// A client that edited the document needs to see its own operations to
// know which of its pending edits committed: a snapshot does not say, and
// re-issuing an edit whose outcome is unknown could apply it twice. So
// deltas are preferred to a smaller snapshot when they hold one of the
// client's own operations — up to maxOwnDeltas, past which the snapshot is
// sent anyway (the client then settles its pending edits as PROTOCOL.md
// §6.8 says for a snapshot).

// maxOwnDeltas bounds deltas sent in place of a smaller snapshot.
func maxOwnDeltas(snapSize int) int { return max(4*snapSize, 1<<20) }

// readLimit bounds the operations, by their size as committed, that a
// catch-up reads and compacts: four times the document, so that a client
// far behind costs about a snapshot, never much more; for a client that
// may find its own operations among them, maxOwnDeltas. Without
// compaction, deltas larger than the snapshot are of no use to other
// clients: the document's size.
func (cu *catchUp) readLimit() int {
	switch {
	case cu.acked != "" && cu.client != "":
		return maxOwnDeltas(cu.snapSize)
	case cu.compact:
		return 4 * cu.snapSize
	default:
		return cu.snapSize
	}
}

// hasOwn reports whether ops include one of the client's own operations;
// only clients that have decided edits in the document (a watermark) are
// looked for.
func (cu *catchUp) hasOwn(ops []*Op) bool {
	if cu.acked == "" || cu.client == "" {
		return false
	}
	for _, op := range ops {
		if op.ClientID == cu.client {
			return true
		}
	}
	return false
}

// mustSeeOwn reports whether deltas of size bytes must be sent although a
// snapshot is smaller.
func (cu *catchUp) mustSeeOwn(ops []*Op, size int) bool {
	return size <= maxOwnDeltas(cu.snapSize) && cu.hasOwn(ops)
}
