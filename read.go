package syncd

import (
	"context"
	"errors"
	"fmt"

	"github.com/deltasync/syncd/revision"
)

// DocState is a document's whole state at a revision.
type DocState struct {
	Doc   string
	Epoch revision.Epoch
	Rev   revision.Rev
	State []byte // compact JSON
}

// State returns the document's state at its newest durable revision. A
// document that does not exist is CodeNotFound (reading never creates).
func (e *Engine) State(ctx context.Context, doc string) (*DocState, error) {
	for {
		d, err := e.lockReadable(ctx, doc, true)
		if err != nil {
			return nil, err
		}
		state, err := d.snapshotLocked()
		snap := &DocState{Doc: doc, Epoch: d.epoch, Rev: d.head, State: state}
		target, gen := d.submitted, d.gen
		d.mu.Unlock()
		if err != nil {
			return nil, &Error{Code: CodeInternal, Message: "snapshot encoding failed", Doc: doc, Err: err}
		}
		if err := e.waitCompleted(ctx, d, target, gen); err != nil {
			if errors.Is(err, errRetry) {
				continue
			}
			return nil, err
		}
		return snap, nil
	}
}

// lockReadable returns doc (which it never creates) with its lock held:
// loaded, live (not unloaded meanwhile), present, and not in the middle of
// a rebase. With fresh, on a shared store it is first caught up to the
// store's head, so that a read is never stale; a deletion, which needs no
// fresh copy to delete, does not wait for that. An absent document is
// CodeNotFound.
func (e *Engine) lockReadable(ctx context.Context, doc string, fresh bool) (*document, error) {
	for {
		d, err := e.acquire(ctx, doc, false)
		if err != nil {
			return nil, err
		}
		if fresh {
			if err := e.freshen(ctx, d); err != nil {
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
			continue
		}
		if d.absent {
			d.mu.Unlock()
			return nil, &Error{Code: CodeNotFound, Message: "no such document", Doc: doc}
		}
		d.lastUsed = e.opts.Now() // a read is a use: not idle, not least recently used
		return d, nil
	}
}

// OpsRange is what [Engine.ReadOps] returns: durable operations of one
// epoch of a document, and where its durable head stood when they were
// read.
type OpsRange struct {
	Epoch revision.Epoch
	Head  revision.Rev // the durable head
	Ops   []*Op        // in revision order; empty when after is the head
}

// ReadOps returns up to limit durable operations of doc after revision
// after, from memory or the store, with the document's epoch and durable
// head. Operations trimmed by retention are CodeGone; an after beyond the
// head is CodeInvalid. Both errors come with the range's Epoch and Head
// filled in, so a caller can say where the document stands.
func (e *Engine) ReadOps(ctx context.Context, doc string, after revision.Rev, limit int) (OpsRange, error) {
	if limit <= 0 {
		limit = e.opts.CatchUpPage
	}
	for {
		d, err := e.lockReadable(ctx, doc, true)
		if err != nil {
			return OpsRange{}, err
		}
		r := OpsRange{Epoch: d.epoch, Head: d.durable}
		if after > r.Head {
			d.mu.Unlock()
			return r, &Error{Code: CodeInvalid, Message: fmt.Sprintf("revision %d is ahead of the head %d", after, r.Head), Doc: doc, Head: r.Head}
		}
		if uint64(after)+1 >= d.ring.First() {
			d.ring.Range(uint64(after)+1, uint64(r.Head), func(_ uint64, en entry) bool {
				r.Ops = append(r.Ops, en.op)
				return len(r.Ops) < limit
			})
			d.mu.Unlock()
			return r, nil
		}
		d.mu.Unlock()
		ops, err := e.store.ReadOps(ctx, doc, r.Epoch, after, limit)
		switch {
		case errors.Is(err, ErrGone):
			return r, &Error{Code: CodeGone, Message: fmt.Sprintf("operations after %d are no longer retained; read a snapshot", after), Doc: doc, Head: r.Head}
		case errors.Is(err, ErrNotFound):
			continue // deleted meanwhile: look again
		case err != nil:
			return OpsRange{}, storeError(doc, "read", err)
		}
		r.Ops = ops
		return r, nil
	}
}

// List returns the metadata of up to limit stored documents with ids after
// after, in id order.
func (e *Engine) List(ctx context.Context, after string, limit int) ([]DocMeta, error) {
	metas, err := e.store.List(ctx, after, limit)
	if err != nil {
		return nil, storeError("", "list", err)
	}
	return metas, nil
}

// Delete deletes a document: its history, snapshots and watermarks. If it
// has subscribers, it lives on for them, empty, under a new epoch, and each
// receives a snapshot with a Gap of reason epoch; otherwise it is gone, and
// using it again creates it under a new epoch. Deleting a document that
// does not exist is CodeNotFound.
func (e *Engine) Delete(ctx context.Context, doc string) error {
	for {
		d, err := e.lockReadable(ctx, doc, false)
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		e.deleteLocked(d, &pending{then: func(_ *Op, err error) { done <- err }})
		d.mu.Unlock()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// deleteLocked deletes d, with p to carry the records and tell the
// caller: d starts over, empty, under a new epoch, in memory at once and
// in the store once p is durable. If it has subscribers or a room, it
// lives on for them under the new epoch (a reset event tells them);
// otherwise it is absent until written again. d.mu must be held.
func (e *Engine) deleteLocked(d *document, p *pending) {
	old := d.head
	e.resetLocked(d, newEpoch())
	d.subsMu.Lock()
	inUse := len(d.subs) > 0 || len(d.presence) > 0
	d.subsMu.Unlock()
	p.del = &DeleteRecord{Doc: d.id}
	p.recreate, p.reset = nil, nil
	if inUse {
		now := e.opts.Now().UnixMilli()
		p.recreate = &CreateRecord{Doc: d.id, Epoch: d.epoch, Time: now}
		p.reset = &Event{
			Kind: EventSnapshot, Doc: d.id, Epoch: d.epoch, Rev: 0, State: []byte("{}"),
			Gap:         &Gap{Reason: GapEpoch, ExpectedRev: old, BufferFirstRev: 1},
			CatchUpDone: true,
		}
	} else {
		d.absent = true
	}
	e.submitLocked(d, p)
}

// Head returns the position of a loaded document's newest durable
// revision, without loading it; ok is false if it is not in memory.
func (e *Engine) Head(doc string) (pos revision.Position, ok bool) {
	e.mu.Lock()
	d := e.docs[doc]
	e.mu.Unlock()
	if d == nil {
		return pos, false
	}
	select {
	case <-d.ready:
	default:
		return pos, false
	}
	if d.loadErr != nil {
		return pos, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gone || d.absent {
		return pos, false
	}
	return revision.Position{Epoch: d.epoch, Rev: d.durable}, true
}

// MaxDocSize is the largest encoded document the engine accepts.
func (e *Engine) MaxDocSize() int { return e.opts.MaxDocSize }

// MaxDocDepth is the deepest nesting an edit may give a document.
func (e *Engine) MaxDocDepth() int { return e.opts.MaxDocDepth }

// MaxPatchOps is the most operations one JSON Patch may have.
func (e *Engine) MaxPatchOps() int { return e.opts.MaxPatchOps }

// MaxPatchWork is the most bytes of the document one edit may walk.
func (e *Engine) MaxPatchWork() int { return e.opts.MaxPatchWork }
