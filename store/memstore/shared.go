package memstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// Shared is one in-memory log that several engines write at once: the
// test double of a replicated log such as store/natsstore's, for tests of
// the engine as one writer among several. Each engine gets its own
// [Handle] (Open), which implements [syncd.SharedStore]; all handles see
// the same documents.
//
// What a shared store promises beyond a [syncd.Store], this one does:
//
//   - Commit is atomic per document: a document whose records fail a
//     check leaves nothing of them behind, and the batch reports it in a
//     [*syncd.PartialCommitError]; the other documents' records are
//     applied.
//   - An Append whose revision is not head+1, or an Append or Decide of a
//     client request the document has already decided (another writer's
//     edit with the same ids), is a conflict ([syncd.ErrConflict]).
//   - Head reads the committed head; Watch calls back, from a goroutine
//     of the watch's own, after each commit that touched the document,
//     with the operations appended since its last call (a Complete
//     [syncd.StoredChange]) when that is all that changed.
//   - A batch that deletes a document is a conflict when the document is
//     no longer in the epoch its handle last learnt (by Load or Commit):
//     of two writers that delete and re-create it at once, one wins
//     (seen.go).
//
// An outcome is never unknown here: every Commit knows what it applied.
type Shared struct {
	s *Store

	watchMu sync.Mutex
	watches map[string]map[*watch]struct{}
}

// NewShared returns an empty shared log.
func NewShared(opts Options) *Shared {
	return &Shared{s: New(opts), watches: make(map[string]map[*watch]struct{})}
}

// Open returns a new handle on the log, for one engine.
func (sh *Shared) Open() *Handle {
	return &Handle{sh: sh, own: make(map[*watch]struct{})}
}

// Close closes the log itself: every handle's calls fail after it. Close
// the handles first (their watches end with them).
func (sh *Shared) Close() error { return sh.s.Close() }

// Handle is one engine's view of a [Shared] log; it implements
// [syncd.SharedStore]. Closing it ends its watches, not the log.
type Handle struct {
	sh *Shared

	mu     sync.Mutex
	closed bool
	own    map[*watch]struct{} // this handle's watches, ended by Close

	seen seen // the epochs this handle knows, which its deletes are checked against
}

var _ syncd.SharedStore = (*Handle)(nil)

var errHandleClosed = errors.New("memstore: shared handle is closed")

func (h *Handle) check() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errHandleClosed
	}
	return nil
}

// Load implements [syncd.Store.Load]. The handle learns what it read (or
// that the document is absent): its deletes are checked against it.
func (h *Handle) Load(ctx context.Context, doc string) (*syncd.StoredDoc, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	h.seen.mu.Lock()
	defer h.seen.mu.Unlock()
	sd, err := h.sh.s.Load(ctx, doc)
	switch {
	case err == nil:
		h.seen.learnLocked(doc, &document{meta: sd.Meta})
	case errors.Is(err, syncd.ErrNotFound):
		h.seen.learnLocked(doc, nil)
	}
	return sd, err
}

// ReadOps implements [syncd.Store.ReadOps].
func (h *Handle) ReadOps(ctx context.Context, doc string, epoch revision.Epoch, after revision.Rev, limit int) ([]*syncd.Op, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	return h.sh.s.ReadOps(ctx, doc, epoch, after, limit)
}

// Watermark implements [syncd.Store.Watermark].
func (h *Handle) Watermark(ctx context.Context, doc, clientID string) (revision.Watermark, error) {
	if err := h.check(); err != nil {
		return revision.Watermark{}, err
	}
	return h.sh.s.Watermark(ctx, doc, clientID)
}

// Outcomes implements [syncd.Store.Outcomes].
func (h *Handle) Outcomes(ctx context.Context, doc, clientID string) ([]revision.Outcome, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	return h.sh.s.Outcomes(ctx, doc, clientID)
}

// ClaimClient implements [syncd.Store.ClaimClient].
func (h *Handle) ClaimClient(ctx context.Context, claim syncd.ClientClaim) (syncd.ClientRecord, error) {
	if err := h.check(); err != nil {
		return syncd.ClientRecord{}, err
	}
	return h.sh.s.ClaimClient(ctx, claim)
}

// List implements [syncd.Store.List].
func (h *Handle) List(ctx context.Context, after string, limit int) ([]syncd.DocMeta, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	return h.sh.s.List(ctx, after, limit)
}

// Head implements [syncd.SharedStore.Head].
func (h *Handle) Head(ctx context.Context, doc string) (revision.Epoch, revision.Rev, error) {
	if err := h.check(); err != nil {
		return "", 0, err
	}
	d, err := h.sh.s.lookup(ctx, doc)
	if err != nil {
		return "", 0, err
	}
	if d == nil {
		return "", 0, fmt.Errorf("memstore: head of %q: %w", doc, syncd.ErrNotFound)
	}
	return d.meta.Epoch, d.meta.Head, nil
}

// Commit implements [syncd.SharedStore]'s Commit: atomic per document,
// with a *syncd.PartialCommitError naming the documents whose records
// failed. Watches of the documents it changed are told afterwards.
func (h *Handle) Commit(ctx context.Context, batch []syncd.Record) error {
	if err := h.check(); err != nil {
		return err
	}
	failed, applied, err := h.sh.s.commitPerDoc(ctx, batch, &h.seen)
	if err != nil {
		return err
	}
	h.sh.notify(storedChanges(batch, applied))
	if len(failed) > 0 {
		return &syncd.PartialCommitError{Failed: failed}
	}
	return nil
}

// Close implements [syncd.Store.Close] for this handle: it ends the
// handle's watches; the log stays open for the others.
func (h *Handle) Close() error {
	h.mu.Lock()
	h.closed = true
	own := h.own
	h.own = nil
	h.mu.Unlock()
	for w := range own {
		w.stop()
	}
	return nil
}

// Watch implements [syncd.SharedStore.Watch]. changed runs on a goroutine
// of the watch's own; a commit only signals it, so a slow changed never
// holds a commit back (signals that arrive meanwhile merge into one
// call). stop must not be called from changed.
func (h *Handle) Watch(doc string, changed func(syncd.StoredChange)) (stop func()) {
	w := &watch{
		sh: h.sh, h: h, doc: doc, changed: changed,
		signal: make(chan struct{}, 1),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(w.exited)
		return func() {}
	}
	h.own[w] = struct{}{}
	h.mu.Unlock()
	h.sh.watchMu.Lock()
	m := h.sh.watches[doc]
	if m == nil {
		m = make(map[*watch]struct{})
		h.sh.watches[doc] = m
	}
	m[w] = struct{}{}
	h.sh.watchMu.Unlock()
	go w.run()
	return w.stop
}

// watch is one Watch: its goroutine calls changed once per signal.
type watch struct {
	sh      *Shared
	h       *Handle
	doc     string
	changed func(syncd.StoredChange)
	signal  chan struct{} // capacity 1: "something changed"
	// told, under mu, is what the commits since the last call stored,
	// merged; set says there is something (see tell).
	mu     sync.Mutex
	told   syncd.StoredChange
	set    bool
	done   chan struct{} // closed by stop
	exited chan struct{} // closed when run returns
	once   sync.Once
}

func (w *watch) run() {
	defer close(w.exited)
	for {
		select {
		case <-w.done:
			return
		case <-w.signal:
			select {
			case <-w.done:
				return
			default:
			}
			w.mu.Lock()
			told, set := w.told, w.set
			w.told, w.set = syncd.StoredChange{}, false
			w.mu.Unlock()
			if set {
				// Unset: an earlier call already passed the change this
				// signal was sent for (tell runs before the signal).
				w.changed(told)
			}
		}
	}
}

// stop ends the watch and waits for its goroutine, so that changed is
// not called after it returns.
func (w *watch) stop() {
	w.once.Do(func() {
		w.sh.watchMu.Lock()
		if m := w.sh.watches[w.doc]; m != nil {
			delete(m, w)
			if len(m) == 0 {
				delete(w.sh.watches, w.doc)
			}
		}
		w.sh.watchMu.Unlock()
		w.h.mu.Lock()
		delete(w.h.own, w)
		w.h.mu.Unlock()
		close(w.done)
	})
	<-w.exited
}

// notify tells the watches of each document what was stored, without
// waiting for any.
func (sh *Shared) notify(changes map[string]syncd.StoredChange) {
	sh.watchMu.Lock()
	defer sh.watchMu.Unlock()
	for doc, c := range changes {
		for w := range sh.watches[doc] {
			w.tell(c)
			select {
			case w.signal <- struct{}{}:
			default: // already signalled: the pending call will see this change too
			}
		}
	}
}

// commitPerDoc applies batch one document at a time: each document's
// records, in batch order, as one atomic step checked with
// de-duplication, and, when they delete the document, against the epoch
// the writer knows (view). It returns the documents whose records failed,
// with why, and those it applied; err is set only when nothing was
// applied (ctx ended, the store is closed, a record is malformed).
// Afterwards view knows every document of the batch as it is now, as a
// natsstore writer learns the log after a conflict, so that a retry after
// a failure is checked against what the writer has now seen.
func (s *Store) commitPerDoc(ctx context.Context, batch []syncd.Record, view *seen) (failed map[string]error, applied []string, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if s.closed {
		return nil, nil, errClosed
	}
	// A malformed record is the caller's bug, not another writer's doing:
	// it fails the whole batch, as on a store of one writer.
	for i, rec := range batch {
		if err := checkRecord(rec); err != nil {
			return nil, nil, fmt.Errorf("memstore: commit record %d of %d: %w", i, len(batch), err)
		}
	}
	var order []string
	byDoc := make(map[string][]syncd.Record)
	for _, rec := range batch {
		doc := rec.Doc()
		if _, ok := byDoc[doc]; !ok {
			order = append(order, doc)
		}
		byDoc[doc] = append(byDoc[doc], rec)
	}
	installs := make(map[string]*document)
	for _, doc := range order {
		o := overlay{base: s.docs, docs: make(map[string]*document), dedup: true}
		var ferr error
		if deletes(byDoc[doc]) {
			if err := view.checkDelete(doc, s.docs[doc]); err != nil {
				ferr = fmt.Errorf("memstore: commit %w", err)
			}
		}
		for i := 0; ferr == nil && i < len(byDoc[doc]); i++ {
			if err := o.apply(byDoc[doc][i]); err != nil {
				ferr = fmt.Errorf("memstore: commit record %d of %q: %w", i, doc, err)
			}
		}
		if ferr != nil {
			if failed == nil {
				failed = make(map[string]error)
			}
			failed[doc] = ferr
			continue
		}
		for _, id := range o.touched {
			if d := o.docs[id]; d != nil {
				d.trim(s.retention)
			}
		}
		for id, d := range o.docs {
			installs[id] = d
		}
		applied = append(applied, doc)
	}
	s.mu.Lock()
	for id, d := range installs {
		if d == nil {
			delete(s.docs, id)
		} else {
			s.docs[id] = d
		}
	}
	s.mu.Unlock()
	// Still under commitMu: no other commit can have changed s.docs.
	view.mu.Lock()
	for _, doc := range order {
		view.learnLocked(doc, s.docs[doc])
	}
	view.mu.Unlock()
	return failed, applied, nil
}

// deletes reports whether recs delete their document.
func deletes(recs []syncd.Record) bool {
	for _, rec := range recs {
		if rec.Delete != nil {
			return true
		}
	}
	return false
}

// tell merges c into what the watch's next call passes: the operations
// of both when they are of one epoch and follow one another, otherwise an
// incomplete change (the watcher reads the store).
func (w *watch) tell(c syncd.StoredChange) {
	w.mu.Lock()
	defer w.mu.Unlock()
	prev := w.told
	switch {
	case !w.set:
		w.told = c
	case !prev.Complete || !c.Complete:
		w.told = syncd.StoredChange{}
	case len(c.Ops) == 0:
	case len(prev.Ops) == 0:
		w.told = c
	case prev.Epoch == c.Epoch && prev.Ops[len(prev.Ops)-1].Rev+1 == c.Ops[0].Rev:
		w.told.Ops = append(prev.Ops[:len(prev.Ops):len(prev.Ops)], c.Ops...)
	default:
		w.told = syncd.StoredChange{}
	}
	w.set = true
}

// storedChanges says, for each document in applied, what batch stored:
// its appends, as copies (the engine that committed them keeps its own),
// unless it also created, deleted or re-created the document.
func storedChanges(batch []syncd.Record, applied []string) map[string]syncd.StoredChange {
	out := make(map[string]syncd.StoredChange, len(applied))
	for _, doc := range applied {
		out[doc] = syncd.StoredChange{Complete: true}
	}
	for _, rec := range batch {
		doc := rec.Doc()
		c, ok := out[doc]
		if !ok || !c.Complete {
			continue
		}
		switch {
		case rec.Append != nil:
			op := *rec.Append.Op
			c.Epoch = rec.Append.Epoch
			c.Ops = append(c.Ops, &op)
		case rec.Create != nil, rec.Delete != nil:
			c = syncd.StoredChange{}
		}
		out[doc] = c
	}
	return out
}
