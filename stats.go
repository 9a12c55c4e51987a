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
	// RebasesUnknown counts the rebases (among Rebases) begun because a
	// write's outcome was unknown rather than refused as a conflict.
	RebasesUnknown uint64
	// Redecided counts the pending writes (edits, and the creations and
	// deletions among them) decided again by rebases: each was queued
	// again, refused, or resolved to what the store had recorded.
	Redecided uint64
	// FollowOps and RebaseOps count other writers' operations brought
	// into documents held here, by follows and by rebases: the gaps
	// between this engine's copy and the log that were filled.
	FollowOps uint64
	RebaseOps uint64
	// ForwardsOut counts the edits this engine forwarded to their
	// document's home while the document was contended (forward.go);
	// ForwardsIn those other engines forwarded here. ForwardsNotDelivered
	// and ForwardsUnknown count the forwards decided here after all: not
	// delivered, or their outcome unknown (a timeout). ForwardModeDocs is
	// how many loaded documents are in forward mode now.
	ForwardsOut, ForwardsIn               uint64
	ForwardsNotDelivered, ForwardsUnknown uint64
	// ContendedElsewhere counts the times another instance said a
	// document loaded here is contended (Engine.Contended).
	ContendedElsewhere uint64
	// ForwardsOutOfOrder counts the edits forwarded here that were
	// refused (unavailable) because the same client's earlier forwarded
	// edit was not decided (forward.go, "Order across a lost forward").
	ForwardsOutOfOrder uint64
	// ForwardsRedecided counts the decisions made again of forwarded
	// edits of unknown outcome whose own decision here failed
	// (forward_unknown.go).
	ForwardsRedecided uint64
	ForwardModeDocs   int
	// GatherWaits counts the times the committer waited for clients it
	// expected (gather.go) and they all came; GatherTimeouts those it
	// gave up.
	GatherWaits, GatherTimeouts uint64
	// FollowLag is, per follow that found operations, how many revisions
	// the document was behind the log when the follow read it.
	FollowLag Histogram
	// FollowDelay is, per operation a follow brought in, the seconds from
	// when its writer decided it (Op.Time, on the writer's clock) to its
	// delivery here.
	FollowDelay Histogram
}

// Buckets of the follow histograms: 1 to 4,096 revisions behind, and
// 1 ms to about 16 s from another writer's decision to its delivery here.
var (
	followLagBounds   = exponentialBounds(1, 2, 13)
	followDelayBounds = exponentialBounds(0.001, 2, 15)
)

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
	// The rest are counted on a shared store only, off the commit path
	// of a store of one writer: rebases, follows and what they brought.
	rebasesUnknown, redecided atomic.Uint64
	followOps, rebaseOps      atomic.Uint64
	followLag, followDelay    *histogram
	// Forwarding (forward.go).
	forwardsOut, forwardsIn               atomic.Uint64
	forwardsNotDelivered, forwardsUnknown atomic.Uint64
	contendedElsewhere                    atomic.Uint64
	forwardsOutOfOrder                    atomic.Uint64
	forwardsRedecided                     atomic.Uint64
	gatherWaits, gatherTimeouts           atomic.Uint64
}

func (s *stats) init() {
	s.followLag = newHistogram(followLagBounds)
	s.followDelay = newHistogram(followDelayBounds)
}

func (s *stats) observeCommit(records int, d time.Duration, err error) {
	s.batches.Add(1)
	s.records.Add(uint64(records))
	s.commitNanos.Add(int64(d))
	if err != nil {
		s.failures.Add(1)
	}
}

func (s *stats) observeGather(o gatherOutcome) {
	switch o {
	case gatherComplete:
		s.gatherWaits.Add(1)
	case gatherTimeout:
		s.gatherTimeouts.Add(1)
	}
}

// Stats returns a copy of the engine's counters.
func (e *Engine) Stats() Stats {
	s := &e.stats
	out := Stats{
		Commits:        s.commits.Load(),
		Operations:     s.ops.Load(),
		Batches:        s.batches.Load(),
		Records:        s.records.Load(),
		BatchFailures:  s.failures.Load(),
		Rebases:        s.rebases.Load(),
		Follows:        s.follows.Load(),
		RebasesUnknown: s.rebasesUnknown.Load(),
		Redecided:      s.redecided.Load(),
		FollowOps:      s.followOps.Load(),
		RebaseOps:      s.rebaseOps.Load(),
		FollowLag:      s.followLag.snapshot(),
		FollowDelay:    s.followDelay.snapshot(),
		CommitTime:     time.Duration(s.commitNanos.Load()),
		Refusals:       make(map[Code]uint64),
		CatchUps: map[string]uint64{
			"ring":      s.catchUpDeltas.Load(),
			"store":     s.catchUpStore.Load(),
			"snapshot":  s.catchUpSnapshot.Load(),
			"gap":       s.catchUpGap.Load(),
			"compacted": s.catchUpCompacted.Load(),
		},
	}
	// Forwarding (forward.go), set apart so that the list above stays
	// as it was.
	out.ForwardsOut, out.ForwardsIn = s.forwardsOut.Load(), s.forwardsIn.Load()
	out.ForwardsNotDelivered, out.ForwardsUnknown = s.forwardsNotDelivered.Load(), s.forwardsUnknown.Load()
	out.ContendedElsewhere = s.contendedElsewhere.Load()
	out.ForwardsOutOfOrder = s.forwardsOutOfOrder.Load()
	out.ForwardsRedecided = s.forwardsRedecided.Load()
	out.ForwardModeDocs = e.forwardModeDocs()
	out.GatherWaits, out.GatherTimeouts = s.gatherWaits.Load(), s.gatherTimeouts.Load()
	for c := range s.refusals {
		if n := s.refusals[c].Load(); n > 0 {
			out.Refusals[Code(c)] = n
		}
	}
	return out
}

// AppendStats are a shared store's counters of its appends to the log, for
// metrics. A store that keeps them implements [AppendStatser].
type AppendStats struct {
	// The outcomes of the documents' appends this instance attempted:
	// stored (OK); refused because another writer appended first or had
	// stored the same client request (Conflicts, each followed by a
	// rebase); unknown (Unknown: the acknowledgement was lost and the log
	// could not be read back in time); or failed otherwise (Failed: the
	// log could not be reached or refused the message).
	OK, Conflicts, Unknown, Failed uint64
	// Retries counts publishes sent again after a timeout or a lost
	// connection; ReadBacks the log reads that settled a publish's
	// outcome.
	Retries, ReadBacks uint64
	// SnapshotsLost counts snapshots not written after their commit's
	// records were (nothing failed; loads replay a longer tail).
	SnapshotsLost uint64
	// WatchRestarts counts the store's watches of the log made again
	// after they stalled (nothing delivered while messages were pending).
	WatchRestarts uint64
}

// AppendStatser is what a [SharedStore] implements to have its appends
// counted in the server's metrics (store/natsstore does). Optional: the
// server checks for it.
type AppendStatser interface {
	AppendStats() AppendStats
}
