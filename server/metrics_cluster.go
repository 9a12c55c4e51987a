package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/deltasync/syncd"
)

// clusterCollector reads, at scrape time, what a shared store's engine
// counts of the other writers (rebases, follows, the operations they
// brought in, how far behind a followed document was) and, when the store
// keeps them (syncd.AppendStatser), the store's appends and their
// outcomes. The server registers it only when the engine's store is a
// syncd.SharedStore (-store nats): one instance alone has nothing to show.
type clusterCollector struct {
	engine *syncd.Engine
	// appends is the store's counters, nil when it keeps none.
	appends syncd.AppendStatser
}

// newClusterCollector returns the collector for engine, or nil when its
// store is not shared.
func newClusterCollector(engine *syncd.Engine) *clusterCollector {
	st := engine.Store()
	if _, ok := st.(syncd.SharedStore); !ok {
		return nil
	}
	c := &clusterCollector{engine: engine}
	c.appends, _ = st.(syncd.AppendStatser)
	return c
}

var (
	descAppends = prometheus.NewDesc("syncd_cluster_appends_total",
		"Document appends this instance attempted on the shared log, by outcome: ok (stored), conflict (another instance appended first; the edits are decided again), "+
			"unknown (the acknowledgement was lost and the log could not be read back in time), failed (NATS unreachable or refusing). "+
			"Watch the conflict share (contention on hot documents) and any unknown or failed.", []string{"outcome"}, nil)
	descAppendRetries = prometheus.NewDesc("syncd_cluster_append_retries_total",
		"Publishes sent again, under the same de-duplication id, after a timeout or a lost NATS connection. A steady rise means NATS is slow or flapping.", nil, nil)
	descAppendReadBacks = prometheus.NewDesc("syncd_cluster_append_readbacks_total",
		"Reads of the log that settled a publish's outcome (a duplicate or a wrong-last-sequence answer).", nil, nil)
	descSnapshotsLost = prometheus.NewDesc("syncd_cluster_snapshots_lost_total",
		"Snapshots not written after their operations were (nothing is lost; loads replay a longer tail). Rising: check the snapshot bucket's health.", nil, nil)
	descWatchRestarts = prometheus.NewDesc("syncd_cluster_watch_restarts_total",
		"Times this instance's consumer of the log was made again because it had stalled: messages pending for it, or the consumer gone, and nothing delivered at two checks 5 s apart. "+
			"Until then other instances' operations reached subscribers here only through reads. Any rise: see the NATS nodes' health.", nil, nil)
	descRebases = prometheus.NewDesc("syncd_cluster_rebases_total",
		"Times a document's edits in flight were decided again, by cause: conflict (another instance committed first) or unknown (a write's outcome was unknown). "+
			"Compare with syncd_store_commits_total: a high ratio means instances contend for the same documents.", []string{"cause"}, nil)
	descRedecided = prometheus.NewDesc("syncd_cluster_redecided_total",
		"Edits (and creations or deletions) decided again by rebases: each was then committed again, refused, or resolved to what the log had recorded.", nil, nil)
	descFollows = prometheus.NewDesc("syncd_cluster_follows_total",
		"Catch-ups that brought other instances' operations into a document held here.", nil, nil)
	descCaughtUp = prometheus.NewDesc("syncd_cluster_caught_up_operations_total",
		"Other instances' operations brought into documents held here (gaps filled), by how: follow (a catch-up after the log grew) or rebase (read back after a conflict).", []string{"via"}, nil)
	descFollowLag = prometheus.NewDesc("syncd_cluster_follow_lag_revisions",
		"Per catch-up that found operations, how many revisions the document here was behind the log when it started. A growing tail means this instance falls behind the others' writes.", nil, nil)
	descForwarded = prometheus.NewDesc("syncd_cluster_forwarded_edits_total",
		"Edits of contended documents forwarded to the instance that decides them (docs/cluster.md, hot documents), by direction: out (sent by this instance) or in (decided here for another).", []string{"direction"}, nil)
	descForwardFallbacks = prometheus.NewDesc("syncd_cluster_forward_fallbacks_total",
		"Forwarded edits decided here after all, by reason: not_delivered (no instance listened at the home's address) or unknown (no answer within -bus-forward-timeout; the log's de-duplication settles it). "+
			"A steady rise means an instance is down or overloaded.", []string{"reason"}, nil)
	descForwardOutOfOrder = prometheus.NewDesc("syncd_cluster_forward_out_of_order_total",
		"Edits forwarded here refused (UNAVAILABLE, not applied) because the same client's earlier forwarded edit was not decided: "+
			"it was lost on the way or refused before a decision. The client sends it again.", nil, nil)
	descForwardRedecided = prometheus.NewDesc("syncd_cluster_forward_redecided_total",
		"Decisions made again of forwarded edits whose reply never came and whose decision here failed: their home may still "+
			"decide them, so they are not answered 'not applied' but decided again from the log.", nil, nil)
	descForwardModeDocs = prometheus.NewDesc("syncd_cluster_forward_mode_documents",
		"Documents held here that are in forward mode now: contended by several instances, so their edits go to one (-bus-forward-hold after the last conflict, or the home's last reply saying others write it too).", nil, nil)
	descFollowDelay = prometheus.NewDesc("syncd_cluster_follow_delay_seconds",
		"Per operation a catch-up brought in, the time from its writer's decision to its delivery here (the writers' clocks are compared: skew shifts it). "+
			"This is how stale subscribers here see other instances' edits.", nil, nil)
)

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAppends, descAppendRetries, descAppendReadBacks, descSnapshotsLost, descWatchRestarts,
		descRebases, descRedecided, descFollows, descCaughtUp, descFollowLag, descFollowDelay,
		descForwarded, descForwardFallbacks, descForwardOutOfOrder, descForwardRedecided, descForwardModeDocs} {
		ch <- d
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	if c.appends != nil {
		a := c.appends.AppendStats()
		counter(descAppends, a.OK, "ok")
		counter(descAppends, a.Conflicts, "conflict")
		counter(descAppends, a.Unknown, "unknown")
		counter(descAppends, a.Failed, "failed")
		counter(descAppendRetries, a.Retries)
		counter(descAppendReadBacks, a.ReadBacks)
		counter(descSnapshotsLost, a.SnapshotsLost)
		counter(descWatchRestarts, a.WatchRestarts)
	}
	s := c.engine.Stats()
	counter(descRebases, s.Rebases-min(s.RebasesUnknown, s.Rebases), "conflict")
	counter(descRebases, s.RebasesUnknown, "unknown")
	counter(descRedecided, s.Redecided)
	counter(descFollows, s.Follows)
	counter(descCaughtUp, s.FollowOps, "follow")
	counter(descCaughtUp, s.RebaseOps, "rebase")
	ch <- constHistogram(descFollowLag, s.FollowLag)
	ch <- constHistogram(descFollowDelay, s.FollowDelay)
	counter(descForwarded, s.ForwardsOut, "out")
	counter(descForwarded, s.ForwardsIn, "in")
	counter(descForwardFallbacks, s.ForwardsNotDelivered, "not_delivered")
	counter(descForwardFallbacks, s.ForwardsUnknown, "unknown")
	counter(descForwardOutOfOrder, s.ForwardsOutOfOrder)
	counter(descForwardRedecided, s.ForwardsRedecided)
	ch <- prometheus.MustNewConstMetric(descForwardModeDocs, prometheus.GaugeValue, float64(s.ForwardModeDocs))
}

// constHistogram turns an engine histogram (counts per bucket) into a
// Prometheus one (cumulative counts per upper bound).
func constHistogram(d *prometheus.Desc, h syncd.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		buckets[b] = cum
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum, buckets)
}
