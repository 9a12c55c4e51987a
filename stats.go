package syncd

import (
	"sync/atomic"
	"time"
)

// Stats are the engine's counters since Open. Metrics exporters read them;
// they cost one atomic add each on the paths that update them.
type Stats struct {
	// Commits counts decisions made durable: operations, refusals'
	// watermarks, creations and deletions.
	Commits uint64
	// Operations counts committed operations.
	Operations uint64
	// Refusals counts refused edits by code.
	Refusals map[Code]uint64
	// Batches counts store commits (fsyncs, with bbolt); Records counts
	// the records they carried. Records/Batches is the group-commit
	// factor.
	Batches uint64
	Records uint64
	// BatchFailures counts failed store commits.
	BatchFailures uint64
	// CommitTime is the total time spent in Store.Commit.
	CommitTime time.Duration
	// CatchUps counts catch-up answers by kind: deltas from the "ring"
	// or (at least partly) the "store", a "snapshot" asked for, or one
	// after a "gap". "compacted" counts the deltas answers (ring or store)
	// that combined operations (Op.FirstRev) to be smaller than a snapshot.
	CatchUps map[string]uint64
	// Rebases counts, on a shared store, the times a document's edits
	// were decided again because another writer committed first (or a
	// write's outcome was unknown); Follows counts the catch-ups that
	// brought in other writers' operations.
	Rebases uint64
	Follows uint64
}

type stats struct {
	commits, ops, batches, records, failures atomic.Uint64
	commitNanos                              atomic.Int64
	refusals                                 [len(codeNames)]atomic.Uint64
	catchUpDeltas, catchUpStore              atomic.Uint64
	catchUpSnapshot, catchUpGap              atomic.Uint64
	catchUpCompacted                         atomic.Uint64
	// rebases and follows count, on a shared store, the documents decided
	// again after a conflict and the catch-ups of other writers' commits.
	rebases, follows atomic.Uint64
}

func (s *stats) observeCommit(records int, d time.Duration, err error) {
	s.batches.Add(1)
	s.records.Add(uint64(records))
	s.commitNanos.Add(int64(d))
	if err != nil {
		s.failures.Add(1)
	}
}

// Stats returns a copy of the engine's counters.
func (e *Engine) Stats() Stats {
	s := &e.stats
	out := Stats{
		Commits:       s.commits.Load(),
		Operations:    s.ops.Load(),
		Batches:       s.batches.Load(),
		Records:       s.records.Load(),
		BatchFailures: s.failures.Load(),
		Rebases:       s.rebases.Load(),
		Follows:       s.follows.Load(),
		CommitTime:    time.Duration(s.commitNanos.Load()),
		Refusals:      make(map[Code]uint64),
		CatchUps: map[string]uint64{
			"ring":      s.catchUpDeltas.Load(),
			"store":     s.catchUpStore.Load(),
			"snapshot":  s.catchUpSnapshot.Load(),
			"gap":       s.catchUpGap.Load(),
			"compacted": s.catchUpCompacted.Load(),
		},
	}
	for c := range s.refusals {
		if n := s.refusals[c].Load(); n > 0 {
			out.Refusals[Code(c)] = n
		}
	}
	return out
}
