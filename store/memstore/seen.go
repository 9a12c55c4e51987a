package memstore

import (
	"fmt"
	"sync"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// seen is what one [Handle] last learnt of each document: which epoch it
// holds, or that it is absent. It is the in-memory counterpart of
// store/natsstore's per-writer cache, whose messages are conditional on
// the last record the writer knows.
//
// Why a handle needs it: a delete record names only the document, so
// checked against the log alone it deletes whatever is there. Two
// writers that both delete and re-create a document at once would then
// both succeed, the second deleting the first's new epoch unseen; the
// SharedStore contract says only one may (the other gets ErrConflict).
// Checking a delete against the epoch its writer knew gives that.
type seen struct {
	// mu guards epochs. Load holds it across its read and the record of
	// what it read, and Commit records after installing, so a handle's
	// view never goes back to an older state than one it already learnt.
	mu sync.Mutex
	// epochs maps a document to the epoch the handle last learnt, ""
	// when it learnt that the document is absent. A document the handle
	// never read or wrote has no entry, and its deletes are not checked
	// (as natsstore reads the log then).
	epochs map[string]revision.Epoch
}

// learnLocked records d (nil: absent) as what the handle knows of doc.
// s.mu must be held.
func (s *seen) learnLocked(doc string, d *document) {
	if s.epochs == nil {
		s.epochs = make(map[string]revision.Epoch)
	}
	var e revision.Epoch
	if d != nil {
		e = d.meta.Epoch
	}
	s.epochs[doc] = e
}

// checkDelete reports a conflict when the handle knows doc to be in
// another epoch (or absent) than current, the committed document (nil:
// absent): a delete it commits would then remove an epoch it has not
// seen, perhaps another writer's re-creation.
func (s *seen) checkDelete(doc string, current *document) error {
	s.mu.Lock()
	known, ok := s.epochs[doc]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	var now revision.Epoch
	if current != nil {
		now = current.meta.Epoch
	}
	if known == now {
		return nil
	}
	return fmt.Errorf("delete %q: the writer knows %s, the log holds %s: %w", doc, describeEpoch(known), describeEpoch(now), syncd.ErrConflict)
}

func describeEpoch(e revision.Epoch) string {
	if e == "" {
		return "no document"
	}
	return "epoch " + string(e)
}
