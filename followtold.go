package syncd

import (
	"sync"

	"github.com/deltasync/syncd/revision"
)

// A document's watch (SharedStore.Watch) tells what the store stored when
// it can (StoredChange), and the follow then applies that instead of
// reading it back: on a cluster each append reaches every instance once,
// through the watch, rather than as a notice followed by a read of the log
// (several requests to the stream's leader per follow, each answered in
// JSON with the operations in base64, on every instance for every append).
// The watch also tells this engine's own appends; the follow recognises
// them by revision (at or below the document's durable revision: the
// committer had them stored before it follows) and drops them, so an own
// commit costs no read at all.
//
// The follow still reads the store when what was told does not do: a
// call that was not Complete (a create, a delete, a new epoch, a store that
// cannot say), operations that do not continue the document's durable
// revision (the watch started late, or missed some), more than maxToldOps
// waiting, or a reader that waits for the store's head (freshen), which
// only a read of the log's authority gives.

// maxToldOps bounds the operations a document keeps from its watch
// between two follows. Past it they are dropped and the follow reads the
// store: a committer that far behind reads in pages anyway.
const maxToldOps = 1024

// toldOps holds what a document's watch told until the committer's next
// follow takes it. Its own lock, not the document's: the watch calls come
// from the store's goroutine, which must not wait for a decider or an
// apply.
type toldOps struct {
	mu sync.Mutex
	// ops, of epoch, are the operations told since the last take, in
	// revision order without gaps; unknown says something else was told,
	// or some were dropped, so the next follow must read the store.
	epoch   revision.Epoch
	ops     []*Op
	unknown bool
}

// tell records one watch call; it reports whether a follow has anything
// to do.
func (t *toldOps) tell(c StoredChange) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case !c.Complete:
		t.ops, t.unknown = nil, true
	case len(c.Ops) == 0:
		// Records that read back as nothing (a refusal's decision).
		return false
	case t.unknown:
		// The follow reads the store, which holds these too.
	case len(t.ops) > 0 && (t.epoch != c.Epoch || t.ops[len(t.ops)-1].Rev+1 != c.Ops[0].Rev),
		len(t.ops)+len(c.Ops) > maxToldOps:
		t.ops, t.unknown = nil, true
	default:
		if len(t.ops) == 0 {
			t.epoch = c.Epoch
		}
		t.ops = append(t.ops, c.Ops...)
	}
	return true
}

// take empties t and returns the operations told that come after durable
// in epoch. ok is false when they cannot stand for a read of the store:
// something other than operations was told, they are of another epoch, or
// they do not start at durable+1.
func (t *toldOps) take(epoch revision.Epoch, durable revision.Rev) (ops []*Op, ok bool) {
	t.mu.Lock()
	told, toldEpoch, unknown := t.ops, t.epoch, t.unknown
	t.ops, t.unknown = nil, false
	t.mu.Unlock()
	if unknown {
		return nil, false
	}
	if len(told) == 0 {
		return nil, true
	}
	if toldEpoch != epoch {
		return nil, false
	}
	// Those at or below durable are held already: this engine's own
	// appends, or ones an earlier read brought.
	i := 0
	for i < len(told) && told[i].Rev <= durable {
		i++
	}
	told = told[i:]
	if len(told) > 0 && told[0].Rev != durable+1 {
		return nil, false
	}
	return told, true
}
