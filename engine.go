package syncd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/revision"
)

// Engine keeps documents: it orders their edits, makes them durable in a
// [Store] before acknowledging them, answers catch-up requests and fans
// committed operations out to subscribers. It is safe for concurrent use.
//
// An Engine owns two goroutines, both stopped by [Engine.Close]: the
// committer, which writes queued records to the store in batches (group
// commit) and then acknowledges and delivers them, and the janitor, which
// unloads idle documents.
type Engine struct {
	opts  Options
	store Store
	// shared is store when it is a SharedStore (other engines write it
	// too), else nil: the engine then follows their commits and decides
	// again what a conflict undid (rebase.go, follow.go).
	shared SharedStore
	log    *slog.Logger
	stats  stats

	ctx    context.Context // cancelled by Close; the store calls run under it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	queue *commitQueue
	runs  []finishRun // finishBatch's memory; the committer goroutine's alone
	// rebasing lists the documents whose undone pendings the committer
	// is collecting (rebase.go); the committer goroutine's alone.
	rebasing []*document

	mu     sync.Mutex // guards docs and closed; never taken while holding a document's lock
	docs   map[string]*document
	closed bool

	// roomMu lets one caller at a time unload documents to make room
	// under MaxLoadedDocs (reserveSlot); taken before mu and the
	// documents' locks, never while holding them.
	roomMu sync.Mutex
	// noRoomUntil, guarded by roomMu, is when reserveSlot may scan again
	// after a scan that left the table full (noRoomRecheck).
	noRoomUntil time.Time
	// loadedBytes is the summed charge of the loaded documents
	// (loadcost.go), bounded by MaxLoadedBytes.
	loadedBytes atomic.Int64

	// unsettled holds the edits of unknown outcome being decided again,
	// which the same client's later edits of the document wait behind
	// (forward_unknown.go).
	unsettled unsettledEdits
	// kept holds the rooms of documents dropped after a failed write,
	// until their next copy is loaded (keptroom.go). keptMu is a leaf lock.
	keptMu sync.Mutex
	kept   map[string]*keptRoom
}

// Open starts an engine over store. The engine does not own the store: close
// the engine first, then the store.
func Open(store Store, opts Options) (*Engine, error) {
	if store == nil {
		return nil, errors.New("syncd: Open needs a store")
	}
	o := opts.withDefaults()
	if o.RingSize < 2 {
		return nil, fmt.Errorf("syncd: RingSize must be at least 2, got %d", o.RingSize)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		opts:   o,
		store:  store,
		log:    o.Logger,
		ctx:    ctx,
		cancel: cancel,
		queue:  newCommitQueue(),
		docs:   make(map[string]*document),
	}
	e.shared, _ = store.(SharedStore)
	if o.GroupCommitWait >= 0 {
		maxWait := gatherMaxWait
		if e.shared != nil {
			maxWait = gatherSharedMaxWait
		}
		e.queue.gather = newGatherer(o.GroupCommitWait, maxWait)
	}
	e.stats.init()
	e.wg.Add(2)
	go func() { defer e.wg.Done(); e.commitLoop() }()
	go func() { defer e.wg.Done(); e.janitor() }()
	return e, nil
}

// Close stops the engine: new calls fail with CodeClosed, writes already
// queued are committed (or failed) and acknowledged, and the engine's
// goroutines exit. It does not close the store. It is safe to call twice.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.wg.Wait()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.queue.close()
	e.wg.Wait()
	e.cancel()
	e.stopWatches()
	e.finishForwardsAtClose()
	return nil
}

// Store returns the store the engine writes to.
func (e *Engine) Store() Store { return e.store }

var errClosed = &Error{Code: CodeClosed, Message: "engine is closed"}

// acquire returns the loaded document id, loading it if needed. With create,
// a document that does not exist is created (empty, revision 0, a new
// epoch); without, it is CodeNotFound. The caller must lock d.mu and check
// d.gone, and call acquire again if it is set.
func (e *Engine) acquire(ctx context.Context, id string, create bool) (*document, error) {
	return e.acquireFor(ctx, id, create, nil)
}

// maxRoomTries bounds how often acquireFor makes room under MaxLoadedDocs
// and finds the table full again (filled by concurrent loads) before it
// refuses with CodeExhausted.
const maxRoomTries = 3

// acquireFor is acquire with a creation check: with create, mayCreate (if
// not nil) is asked before a document that does not exist is created, and
// its error refuses the call and creates nothing (see
// SubscribeRequest.MayCreate).
func (e *Engine) acquireFor(ctx context.Context, id string, create bool, mayCreate func() error) (*document, error) {
	if err := ValidateDocID(id); err != nil {
		return nil, err
	}
	roomTries := 0
	for {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return nil, errClosed
		}
		d := e.docs[id]
		if d == nil && e.fullLocked() {
			e.mu.Unlock()
			if roomTries++; roomTries > maxRoomTries || !e.reserveSlot() {
				return nil, e.errExhausted(id)
			}
			continue
		}
		if d == nil {
			d = newDocument(id, e.opts.policyFor(id))
			e.adoptRoom(d) // a room kept from a copy dropped after a failed write
			d.chargeTo(&e.loadedBytes)
			e.docs[id] = d
			e.mu.Unlock()
			// Load under the engine's context, not the caller's: other
			// callers wait for this load and must not inherit a
			// cancellation that is not theirs.
			d.loadErr = e.load(e.ctx, d, create, mayCreate)
			if d.loadErr != nil {
				e.forget(d)
			}
			close(d.ready)
			var refusal *creationRefused
			if errors.As(d.loadErr, &refusal) {
				return nil, refusal.err
			}
			if d.loadErr != nil {
				return nil, d.loadErr
			}
			return d, nil
		}
		e.mu.Unlock()
		// ctx is asked for its Done channel only if the load is still
		// going: that makes the channel, which a connection's context
		// (the caller's, for a JOIN) would then keep while it lives.
		select {
		case <-d.ready:
		default:
			select {
			case <-d.ready:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if d.loadErr != nil {
			var refusal *creationRefused
			refused := errors.As(d.loadErr, &refusal)
			if create && (refused || CodeOf(d.loadErr) == CodeNotFound) {
				// Loaded by a reader that would not create it, or by a
				// caller that was not allowed to: this caller may be.
				continue
			}
			if refused {
				return nil, refusal.notFound
			}
			return nil, d.loadErr
		}
		return d, nil
	}
}

// forget removes d from the table if it is still there, and its charge
// from the loaded bytes. It takes d.mu: never call it holding it.
func (e *Engine) forget(d *document) {
	e.mu.Lock()
	if e.docs[d.id] == d {
		delete(e.docs, d.id)
	}
	e.mu.Unlock()
	d.mu.Lock()
	d.dischargeLocked()
	d.mu.Unlock()
	stopWatch(d)
}

func newEpoch() revision.Epoch {
	return revision.Epoch(ulid.Make().String())
}

// NewEpoch returns a fresh epoch, as the engine gives a new document. A
// restore (syncd restore) gives every document one.
func NewEpoch() revision.Epoch { return newEpoch() }

// creationRefused is the load error of a document that does not exist and
// whose creation mayCreate refused: the caller that asked gets err, other
// callers waiting for the same load try again themselves (or, not creating,
// get notFound).
type creationRefused struct {
	err      error
	notFound error
}

func (c *creationRefused) Error() string { return c.err.Error() }

// load reads d from the store and replays its tail, or creates it if create
// is set and mayCreate (when not nil) allows it.
func (e *Engine) load(ctx context.Context, d *document, create bool, mayCreate func() error) error {
	sd, err := e.store.Load(ctx, d.id)
	if errors.Is(err, ErrNotFound) {
		notFound := &Error{Code: CodeNotFound, Message: "no such document", Doc: d.id}
		if !create {
			return notFound
		}
		if mayCreate != nil {
			if err := mayCreate(); err != nil {
				return &creationRefused{err: err, notFound: notFound}
			}
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		e.resetLocked(d, newEpoch())
		d.lastUsed = e.opts.Now()
		e.submitLocked(d, &pending{create: &CreateRecord{Doc: d.id, Epoch: d.epoch, Time: d.lastUsed.UnixMilli()}})
		return nil
	}
	if err != nil {
		return storeError(d.id, "load", err)
	}
	h := newHistory(e.opts.RingSize, uint64(sd.SnapshotRev)+1)
	state, err := replay(d.id, sd, func(op *Op, paths delta.PathSet) {
		h.push(op, paths, true) // clients rejoining after a restart catch up from these
	})
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.epoch = sd.Meta.Epoch
	d.state = state
	d.hookChecked = false // what the store held was never shown to the hook
	d.size = delta.Size(state)
	d.head = sd.Meta.Head
	d.durable = sd.Meta.Head
	d.history = h
	d.first = sd.Meta.First
	d.sinceSnapshot = len(sd.Tail)
	d.lastUsed = e.opts.Now()
	d.rechargeLocked()
	return nil
}

// replay rebuilds the state a store holds for a document: its snapshot,
// and each operation of the tail applied in order, which it hands to keep
// with the paths it touched.
func replay(doc string, sd *StoredDoc, keep func(op *Op, paths delta.PathSet)) (any, error) {
	var state any = map[string]any{}
	if len(sd.SnapshotState) > 0 {
		var err error
		if state, err = delta.Decode(sd.SnapshotState); err != nil {
			return nil, &Error{Code: CodeInternal, Message: "stored snapshot does not decode", Doc: doc, Err: err}
		}
	}
	next := sd.SnapshotRev + 1
	var ch delta.Change // reused from operation to operation
	for _, op := range sd.Tail {
		if op.Rev != next {
			return nil, &Error{Code: CodeInternal, Message: fmt.Sprintf("stored log skips from %d to %d", next-1, op.Rev), Doc: doc}
		}
		p, err := delta.ParsePatch(op.Payload)
		if err != nil {
			return nil, &Error{Code: CodeInternal, Message: fmt.Sprintf("stored operation %d does not parse", op.Rev), Doc: doc, Err: err}
		}
		err = p.ApplyTo(&state, &ch)
		p.Release()
		if err != nil {
			return nil, &Error{Code: CodeInternal, Message: fmt.Sprintf("stored operation %d does not apply", op.Rev), Doc: doc, Err: err}
		}
		keep(op, ch.Paths)
		ch.Reset()
		next++
	}
	if next-1 != sd.Meta.Head {
		return nil, &Error{Code: CodeInternal, Message: fmt.Sprintf("stored log ends at %d, head is %d", next-1, sd.Meta.Head), Doc: doc}
	}
	return state, nil
}

// resetLocked makes d an empty document of a new epoch. d.mu must be held.
func (e *Engine) resetLocked(d *document, epoch revision.Epoch) {
	d.epoch = epoch
	d.state = map[string]any{}
	d.size = 2 // "{}"
	d.head = 0
	d.durable = 0
	d.first = 1
	d.history = newHistory(e.opts.RingSize, 1)
	d.sinceSnapshot = 0
	d.snapCacheOK = false
	d.hookChecked = false
	clear(d.wms)
	d.rechargeLocked()
}

// storeError wraps a store failure as an engine error.
func storeError(doc, what string, err error) error {
	code := CodeInternal
	if errors.Is(err, ErrUnavailable) {
		code = CodeUnavailable
	}
	return &Error{Code: code, Message: "store " + what + " failed", Doc: doc, Err: err}
}

// janitor unloads documents that have been idle for IdleTimeout.
func (e *Engine) janitor() {
	every := e.opts.IdleTimeout / 2
	if every < 10*time.Millisecond {
		every = 10 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.queue.closed:
			return
		case <-t.C:
			e.unloadIdle()
		}
	}
}

func (e *Engine) unloadIdle() {
	now := e.opts.Now()
	e.mu.Lock()
	idle := e.loadedLocked()
	e.mu.Unlock()
	for _, d := range idle {
		e.unloadIf(d, func(d *document) bool { return now.Sub(d.lastUsed) >= e.opts.IdleTimeout })
	}
}

// Loaded returns how many documents are in memory.
func (e *Engine) Loaded() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.docs)
}
