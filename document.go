package syncd

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/ringbuf"
)

// entry is what a document's ring holds for each recent operation: the
// operation and the paths it touched, for rebase checks.
type entry struct {
	op    *Op
	paths delta.PathSet
	// end is the summed EncodedSize of the ring's operations up to and
	// including this one: a catch-up sizes what it would send without
	// visiting every operation (sizeAfter).
	end uint64
}

// document is one loaded document. Two locks guard it, always taken in the
// order mu, then subsMu (never the reverse):
//
//   - mu guards the history: state, head, ring, watermarks, the queue
//     counters. It is held only for in-memory work — checking, applying,
//     assigning a revision, queueing the write — never across store I/O
//     or an fsync (the committer goroutine does those).
//   - subsMu guards the subscribers and serialises deliveries to them, so
//     that each subscriber sees events in revision order. Sinks run under
//     it and must not block.
type document struct {
	id     string
	policy Policy

	// broken is set by the committer goroutine, and read only by it, when
	// a write of this document failed; see Engine.failBatch.
	broken bool
	// run is 1 + the index of d's run in the batch finishBatch is
	// grouping, or 0; the committer goroutine's alone, like broken.
	run int

	// ready is closed when loading has finished; loadErr is then final.
	ready   chan struct{}
	loadErr error

	mu sync.Mutex
	// gone is set when the document was unloaded, deleted without
	// subscribers, or broken by a failed write; holders must look it up
	// again.
	gone bool
	// absent is set when the document was deleted but is still in memory
	// (writes may be queued behind the deletion): a read treats it as not
	// found, and a write creates it again under the new epoch.
	absent        bool
	epoch         revision.Epoch
	state         any // the head state (ahead of the durable state while writes are in flight)
	size          int // delta.Size(state)
	head          revision.Rev
	history                    // the recent operations: ring, and members over them
	first         revision.Rev // oldest revision the store still holds (retention)
	wms           map[string]revision.Watermark
	sinceSnapshot int
	// hookChecked is set once the validation hook has accepted the whole
	// state (see Validation.Checked); a load or a reset starts over.
	hookChecked bool
	// snapCache is the encoded state at snapCacheRev, reused by joins at
	// the same head.
	snapCache    json.RawMessage
	snapCacheRev revision.Rev
	snapCacheOK  bool
	// submitted counts writes queued for the store; completed counts those
	// the committer has finished (durable, or failed and the document
	// broken). durable is the newest durable revision. durableCh, made by
	// the first waiter (see progressLocked), is closed when completed
	// advances.
	submitted uint64
	completed uint64
	durable   revision.Rev
	durableCh chan struct{}
	lastUsed  time.Time
	// change records each edit's Apply, reused from edit to edit (see
	// decideLocked): between edits it is empty.
	change delta.Change
	// charged is what d adds to charges, the engine's estimate of the
	// loaded documents' memory (loadcost.go); charges is nil once d is
	// forgotten.
	charged int64
	charges *atomic.Int64

	// On a shared store only (rebase.go, follow.go); d.gen and d.stale
	// stay zero otherwise.
	//
	// stale, under mu, is set while d is caught up from the store or its
	// undone decisions are made again: deciders and readers wait for it
	// to clear. gen, written under mu by the committer goroutine alone
	// (which may read it without mu), counts the conflicts that undid
	// decisions; see pending.gen.
	stale bool
	gen   uint64
	// redo, redoWant, redoing and redoUnknown are the committer's alone:
	// the pendings of an older gen collected so far, how many there are
	// in all, whether a collection is under way, and whether the outcome
	// of some was unknown.
	redo        []*pending
	redoWant    uint64
	redoing     bool
	redoUnknown bool
	// followQueued is set while a follow of d is queued for the
	// committer, so that a burst of changes queues one.
	followQueued atomic.Bool
	// followAsked and followDone, under mu, are tickets: a reader that
	// needs d caught up to the store takes the next one, and waits until
	// a catch-up that started after it was taken settles it. followErr is
	// the store error of the last catch-up, if it failed.
	followAsked uint64
	followDone  uint64
	followErr   error
	// Forwarding (forward.go), under mu. fwdUntil ends forward mode
	// (zero: not contended). fwd are the pendings forwarded to the home,
	// in the order sent, until their replies are taken in that order
	// (fwdBusy while one of them is decided here instead); fwdApplied
	// are those the home applied, waiting for d to follow the log to
	// their revision.
	// fwdAnnounced is when the other instances were last told that d is
	// contended (Forwarder.Contended).
	fwdUntil     time.Time
	fwdAnnounced time.Time
	fwd          []*pending
	fwdBusy      bool
	fwdApplied   []*pending
	// told is what d's watch told since the last follow (followtold.go).
	told toldOps
	// fwdLast is each client's last edit in fwd (forward.go's "Order
	// across a lost forward"); writers is when d was last written through
	// each source, on the home ("Leaving forward mode").
	fwdLast map[string]*pending
	writers map[string]time.Time
	// watchStop ends the store's watch of d (SharedStore.Watch), set
	// once d has a subscriber. Guarded by subsMu.
	watchStop func()

	subsMu sync.Mutex
	subs   []*Subscription // set through setSubsLocked
	// nsubs is len(subs), readable under mu alone: an operation is
	// indexed by members only while someone subscribes (see push).
	nsubs atomic.Int32
	// presence is this document's room: client id → state. Guarded by
	// subsMu, since every change is also a delivery.
	presence map[string]json.RawMessage
	// presenceUsers names the user of each client in presence that has
	// one (ContextWithPresenceUser), for the Observer. Guarded by subsMu;
	// nil until needed.
	presenceUsers map[string]string
	// presenceBytes is the room's size (see presenceEntrySize). Guarded
	// by subsMu.
	presenceBytes int
	// presenceOrigin names the other instance of a cluster that set each
	// remote entry of presence (presence_remote.go); a client absent from
	// it is this instance's own. Guarded by subsMu; nil until needed.
	presenceOrigin map[string]string
}

func newDocument(id string, policy Policy) *document {
	return &document{
		id:       id,
		policy:   policy,
		ready:    make(chan struct{}),
		wms:      make(map[string]revision.Watermark),
		presence: make(map[string]json.RawMessage),
	}
}

// snapshotLocked returns the encoded head state, from the cache when the
// head has not moved. d.mu must be held.
func (d *document) snapshotLocked() (json.RawMessage, error) {
	if d.snapCacheOK && d.snapCacheRev == d.head {
		return d.snapCache, nil
	}
	b, err := delta.Encode(d.state)
	if err != nil {
		return nil, err
	}
	d.snapCache, d.snapCacheRev, d.snapCacheOK = b, d.head, true
	return b, nil
}

// advanceCompleted records n finished writes up to revision rev (0: no
// operation among them) and wakes waiters. d.mu must be held.
func (d *document) advanceCompletedLocked(n uint64, rev revision.Rev) {
	d.completed += n
	if rev > d.durable {
		d.durable = rev
	}
	if d.durableCh != nil {
		close(d.durableCh)
		d.durableCh = nil
	}
}

// progressLocked returns a channel closed when completed next advances.
// Made on demand, so the committer allocates nothing when nobody waits.
// d.mu must be held.
func (d *document) progressLocked() <-chan struct{} {
	if d.durableCh == nil {
		d.durableCh = make(chan struct{})
	}
	return d.durableCh
}

// history is a document's recent operations: the ring, and the member
// index over it, which knows which top-level members changed after a
// revision and their newest values, so that a catch-up can often be
// answered without composing patches (planLocked).
type history struct {
	ring    *ringbuf.Ring[entry]
	members *delta.MemberIndex
}

// newHistory returns an empty history whose next revision is next.
func newHistory(size int, next uint64) history {
	return history{ring: ringbuf.New[entry](size, next), members: new(delta.MemberIndex)}
}

// push records op, just applied with paths, as the newest operation.
// index false leaves it out of the member index, which then answers no
// catch-up from before it: the index serves clients that rejoin a
// document they were subscribed to, and while nobody subscribes (an
// embedding program committing on its own) it would cost every commit for
// nobody.
func (h history) push(op *Op, paths delta.PathSet, index bool) {
	var end uint64
	if last, ok := h.ring.Get(h.ring.Last()); ok {
		end = last.end
	}
	h.ring.Push(entry{op: op, paths: paths, end: end + uint64(op.EncodedSize())})
	if index && op.Kind == OpMerge {
		h.members.Add(uint64(op.Rev), op.Payload)
	} else {
		h.members.Invalidate(uint64(op.Rev))
	}
	// A catch-up from before the ring reads the store, never the index.
	h.members.Forget(h.ring.First())
}

// setSubsLocked sets d.subs and its count. d.subsMu must be held.
func (d *document) setSubsLocked(subs []*Subscription) {
	d.subs = subs
	d.nsubs.Store(int32(len(subs)))
}

// sizeAfter returns the summed EncodedSize of the operations after rev,
// which must all be in the ring (rev+1 >= ring.First()).
func (h history) sizeAfter(rev revision.Rev) int {
	last, ok := h.ring.Get(h.ring.Last())
	if !ok || uint64(rev) >= h.ring.Last() {
		return 0
	}
	if base, ok := h.ring.Get(uint64(rev)); ok {
		return int(last.end - base.end)
	}
	first, _ := h.ring.Get(h.ring.First())
	return int(last.end - first.end + uint64(first.op.EncodedSize()))
}
