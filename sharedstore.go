package syncd

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/deltasync/syncd/revision"
)

// SharedStore is a [Store] that other engines write at the same time:
// syncd instances on other machines sharing one replicated log
// (store/natsstore). The engine is then one writer among several, and the
// Store contract changes in three ways, which a SharedStore promises:
//
//   - Commit is atomic per document, not across documents. A batch that
//     fails for some documents only returns a [*PartialCommitError] naming
//     them; every other document's records were applied and are durable.
//   - A conflict is a normal outcome, not a failure: an Append whose
//     revision is not the stored head+1, a Create of a document another
//     writer created first, or an Append or Decide of a client request
//     the log has already decided (the request id is at or below the
//     client's watermark in the document: another instance decided it, or
//     a later request of the client) fails that document's records with
//     an error wrapping [ErrConflict], and nothing of them was written.
//     The engine then reloads the document from the store, decides the
//     edits again and retries them. (A single-writer Store takes such a
//     record and leaves the watermark where it is; with several writers a
//     second decision of one request could contradict the first, and a
//     Decide carries no revision for the log's condition to catch.)
//   - A write whose outcome the store cannot learn (its acknowledgement was
//     lost and the log cannot be read back yet) is never reported as a
//     plain failure: the store keeps resolving it (a retry under the same
//     de-duplication key, or a read of the log) until it knows, or until
//     ctx ends, in which case the error wraps [ErrOutcomeUnknown] and the
//     engine must not answer the edit as "not applied".
//
// Besides, reads must never go back in time for a client that moves from
// one instance to another: [SharedStore.Head] reads the document's head
// from the log's authority, and the engine catches its copy up to it
// before it answers a read or a JOIN. [SharedStore.Watch] tells the engine
// when a document it holds may have grown, and what was stored when the
// store can say, so that it can catch up and deliver what other writers
// committed, reading the store only when it cannot tell.
type SharedStore interface {
	Store

	// Head returns doc's epoch and head revision as the log holds them at
	// the time of the call, read from the log's authority (never from a
	// replica that may lag, nor from a cache), so that a read that catches
	// up to it is at least as new as anything any writer had acknowledged
	// before the call. An absent document is [ErrNotFound].
	Head(ctx context.Context, doc string) (revision.Epoch, revision.Rev, error)

	// Watch calls changed each time records of doc may have been stored,
	// by any writer (this engine included), until stop is called. Calls
	// come from the store's goroutines, never concurrently for one watch,
	// and changed must not block. A call may be spurious, and several
	// changes may be told in one call; none is told before it is durable.
	// After stop returns, changed is not called again.
	//
	// A store that can passes what was stored (see [StoredChange]), so
	// that a watcher need not read it back; the zero StoredChange says
	// only "something may have changed: read the store".
	Watch(doc string, changed func(StoredChange)) (stop func())
}

// StoredChange is what one call of a [SharedStore.Watch] tells.
//
// Complete says that Ops are everything the writes told in this call
// changed in the document's log that a reader of ReadOps would see: no
// create, delete or new epoch, no operation left out (records that only
// decide a request, such as a refusal, may be left out). Without
// Complete, anything may have changed and the watcher must read the
// store. A store may always pass the zero StoredChange; it costs the
// watcher a read.
//
// With Complete, Ops are operations of Epoch in revision order without
// gaps among them, durable; they need not follow the operations of the
// previous call (a watch that started late, or a store that left some
// call incomplete), which the watcher notices by their revisions and
// reads. They may include the watcher's own writes. Ops belong to the
// store and are shared with every watch of the document: treat them as
// read-only.
type StoredChange struct {
	Complete bool
	Epoch    revision.Epoch
	Ops      []*Op
}

// ErrOutcomeUnknown: a write was sent, and whether it was stored could not
// be learnt before the context ended. The record may be in the log.
var ErrOutcomeUnknown = errors.New("syncd: outcome of the write unknown")

// PartialCommitError is returned by Commit of a [SharedStore] when the
// records of some documents of the batch were not applied: Failed maps each
// such document to its error (wrapping [ErrConflict] when another writer
// got there first). The records of every document not in Failed were
// applied and are durable.
type PartialCommitError struct {
	Failed map[string]error
}

func (e *PartialCommitError) Error() string {
	docs := make([]string, 0, len(e.Failed))
	for doc := range e.Failed {
		docs = append(docs, doc)
	}
	sort.Strings(docs)
	var b strings.Builder
	fmt.Fprintf(&b, "syncd: commit failed for %d document(s):", len(docs))
	for i, doc := range docs {
		if i == 3 {
			fmt.Fprintf(&b, " …")
			break
		}
		fmt.Fprintf(&b, " %q: %v;", doc, e.Failed[doc])
	}
	return b.String()
}

// Is reports ErrConflict when every failure is a conflict, so that a
// caller that only asks "was this a conflict" gets the right answer.
func (e *PartialCommitError) Is(target error) bool {
	if target != ErrConflict || len(e.Failed) == 0 {
		return false
	}
	for _, err := range e.Failed {
		if !errors.Is(err, ErrConflict) {
			return false
		}
	}
	return true
}
