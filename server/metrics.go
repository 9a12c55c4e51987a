package server

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
)

// Metrics are one server's Prometheus metrics, in a registry of their own
// (never the global one), so two servers in one process — as in tests —
// count separately. Create them before the engine, so the engine can report
// its store commits: syncd.Options{ObserveCommit: m.ObserveStoreCommit}.
//
// The server counts into them but does not change them otherwise: the
// metrics it reads from the engine and the router at scrape time are in a
// registry of the server's own, served beside these at /metrics (see
// [Server.Gatherer]). Give one Metrics to one server: two would add into
// the same counters.
type Metrics struct {
	Registry *prometheus.Registry

	connections  prometheus.Gauge
	messagesIn   *prometheus.CounterVec
	messagesOut  *prometheus.CounterVec
	overflows    prometheus.Counter
	editSeconds  prometheus.Histogram
	storeSeconds prometheus.Histogram
	storeRecords prometheus.Histogram

	// Counters of messagesOut for the broadcast types, resolved once.
	outDeltas, outGap, outSnapshot, outPresence, outMessage prometheus.Counter
	// deliveries counts the shared events sent to connections, readable
	// without the Prometheus machinery (the admin page's chart).
	deliveries atomic.Uint64
}

// NewMetrics creates the metrics and their registry, with the Go runtime and
// process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncd_connections", Help: "Open WebSocket connections.",
		}),
		messagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_messages_in_total", Help: "Messages received, by type.",
		}, []string{"type"}),
		messagesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_messages_out_total", Help: "Messages sent, by type (a broadcast counts once per recipient).",
		}, []string{"type"}),
		overflows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_queue_overflows_total", Help: "Connections closed because their outbound queue was full.",
		}),
		editSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "syncd_commit_seconds", Help: "Time from receiving an edit to its durable commit (or refusal).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		storeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "syncd_store_commit_seconds", Help: "Time of one store commit (with bbolt, mostly the fsync).",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}),
		storeRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "syncd_store_commit_records", Help: "Records per store commit (the group-commit factor).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
	}
	m.outDeltas = m.messagesOut.WithLabelValues(protocol.TypeSyncDeltas)
	m.outGap = m.messagesOut.WithLabelValues(protocol.TypeRevisionGap)
	m.outSnapshot = m.messagesOut.WithLabelValues(protocol.TypeSyncSnapshot)
	m.outPresence = m.messagesOut.WithLabelValues(protocol.TypePresence)
	m.outMessage = m.messagesOut.WithLabelValues(protocol.TypeMessage)
	m.Registry.MustRegister(
		m.connections, m.messagesIn, m.messagesOut, m.overflows,
		m.editSeconds, m.storeSeconds, m.storeRecords,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// ObserveStoreCommit records one store commit; pass it to the engine as
// syncd.Options.ObserveCommit.
func (m *Metrics) ObserveStoreCommit(records int, took time.Duration, err error) {
	m.storeSeconds.Observe(took.Seconds())
	m.storeRecords.Observe(float64(records))
}

func (m *Metrics) observeEdit(took time.Duration, _ error) {
	if m != nil {
		m.editSeconds.Observe(took.Seconds())
	}
}

// engineCollector reads the engine's counters at scrape time, so the hot
// path pays nothing for them.
type engineCollector struct {
	engine *syncd.Engine
}

var (
	descCommits   = prometheus.NewDesc("syncd_commits_total", "Decisions made durable (operations, refusals, creations, deletions).", nil, nil)
	descOps       = prometheus.NewDesc("syncd_operations_total", "Operations committed.", nil, nil)
	descRefusals  = prometheus.NewDesc("syncd_refusals_total", "Edits refused, by engine code (conflict counts conflicts).", []string{"code"}, nil)
	descBatches   = prometheus.NewDesc("syncd_store_commits_total", "Store commits (fsyncs with bbolt).", nil, nil)
	descFailures  = prometheus.NewDesc("syncd_store_commit_failures_total", "Failed store commits.", nil, nil)
	descCatchUps  = prometheus.NewDesc("syncd_catchups_total", "Catch-up answers by kind (ring, store, snapshot, gap; compacted counts the ring or store answers whose operations were combined).", []string{"kind"}, nil)
	descGathers   = prometheus.NewDesc("syncd_commit_gathers_total", "Waits of the committer for clients expected to send their next edit soon (Options.GroupCommitWait), by outcome: all came (complete) or the wait ran out (timeout).", []string{"outcome"}, nil)
	descDocuments = prometheus.NewDesc("syncd_documents_loaded", "Documents in memory.", nil, nil)
	descDocBytes  = prometheus.NewDesc("syncd_documents_loaded_bytes", "Estimated memory of the documents in memory, as -max-loaded-bytes counts it.", nil, nil)
)

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCommits, descOps, descRefusals, descBatches, descFailures, descCatchUps, descGathers, descDocuments, descDocBytes} {
		ch <- d
	}
}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.engine.Stats()
	ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(s.Commits))
	ch <- prometheus.MustNewConstMetric(descOps, prometheus.CounterValue, float64(s.Operations))
	ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(s.Batches))
	ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(s.BatchFailures))
	for code, n := range s.Refusals {
		ch <- prometheus.MustNewConstMetric(descRefusals, prometheus.CounterValue, float64(n), code.String())
	}
	for kind, n := range s.CatchUps {
		ch <- prometheus.MustNewConstMetric(descCatchUps, prometheus.CounterValue, float64(n), kind)
	}
	ch <- prometheus.MustNewConstMetric(descGathers, prometheus.CounterValue, float64(s.GatherWaits), "complete")
	ch <- prometheus.MustNewConstMetric(descGathers, prometheus.CounterValue, float64(s.GatherTimeouts), "timeout")
	ch <- prometheus.MustNewConstMetric(descDocuments, prometheus.GaugeValue, float64(c.engine.Loaded()))
	ch <- prometheus.MustNewConstMetric(descDocBytes, prometheus.GaugeValue, float64(c.engine.LoadedBytes()))
}

func (m *Metrics) in(typ string)  { m.messagesIn.WithLabelValues(typ).Inc() }
func (m *Metrics) out(typ string) { m.messagesOut.WithLabelValues(typ).Inc() }

// outEvent counts a shared event sent to one connection. It runs once per
// subscriber of every broadcast, so it uses counters resolved in advance
// rather than a label lookup each time.
func (m *Metrics) outEvent(ev *syncd.Event) {
	m.deliveries.Add(1)
	switch ev.Kind {
	case syncd.EventDeltas:
		m.outDeltas.Inc()
	case syncd.EventSnapshot:
		if ev.Gap != nil {
			m.outGap.Inc()
		}
		m.outSnapshot.Inc()
	case syncd.EventPresence:
		m.outPresence.Inc()
	}
}
