package natsstore

import (
	"sync/atomic"

	"github.com/deltasync/syncd"
)

// Stats are a store's counters since New, for metrics: how often this
// instance appends, loses races to other writers, and has to resolve a
// publish whose answer did not come.
type Stats struct {
	// Appends counts log messages stored (one per document per Commit
	// that writes it).
	Appends uint64
	// Conflicts counts documents of a Commit refused because another
	// writer got there first (or already stored the client request).
	Conflicts uint64
	// Retries counts publishes sent again after a timeout or a lost
	// connection; ReadBacks the log reads that settled a publish's
	// outcome (a duplicate or a wrong-last-sequence answer).
	Retries   uint64
	ReadBacks uint64
	// Unknown counts documents answered with ErrOutcomeUnknown.
	Unknown uint64
	// Failed counts publishes that failed otherwise (not stored, no
	// conflict: NATS unreachable or refusing the message).
	Failed uint64
	// SnapshotsLost counts snapshots that could not be written after their
	// commit's log records were (the commit succeeded; a load replays a
	// longer tail until the next snapshot).
	SnapshotsLost uint64
	// WatchRestarts counts watch consumers made again because they had
	// stalled: messages pending, or the consumer gone, and nothing
	// delivered (watch.go).
	WatchRestarts uint64
}

type counters struct {
	appends, conflicts, retries, readBacks, unknown, failed, snapshotsLost, watchRestarts atomic.Uint64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	c := &s.stats
	return Stats{
		Appends: c.appends.Load(), Conflicts: c.conflicts.Load(), Retries: c.retries.Load(),
		ReadBacks: c.readBacks.Load(), Unknown: c.unknown.Load(), Failed: c.failed.Load(),
		SnapshotsLost: c.snapshotsLost.Load(), WatchRestarts: c.watchRestarts.Load(),
	}
}

// AppendStats returns the store's counters for the server's metrics
// (syncd.AppendStatser).
func (s *Store) AppendStats() syncd.AppendStats {
	st := s.Stats()
	return syncd.AppendStats{
		OK: st.Appends, Conflicts: st.Conflicts, Unknown: st.Unknown, Failed: st.Failed,
		Retries: st.Retries, ReadBacks: st.ReadBacks, SnapshotsLost: st.SnapshotsLost, WatchRestarts: st.WatchRestarts,
	}
}

var _ syncd.AppendStatser = (*Store)(nil)
