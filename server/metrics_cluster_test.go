package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// countingHandle is a shared memstore handle that keeps append counters as
// natsstore does (syncd.AppendStatser), with fixed values to find again.
type countingHandle struct {
	*memstore.Handle
}

func (countingHandle) AppendStats() syncd.AppendStats {
	return syncd.AppendStats{OK: 11, Conflicts: 12, Unknown: 13, Failed: 14, Retries: 15, ReadBacks: 16, SnapshotsLost: 17, WatchRestarts: 18}
}

// With a shared store, /metrics shows the store's appends by outcome and
// what the engine did about the other writers: a client joined here sees
// another engine's commits, which the follows count.
func TestClusterMetrics(t *testing.T) {
	sh := memstore.NewShared(memstore.Options{})
	t.Cleanup(func() { sh.Close() })
	ev := newEnvStore(t, countingHandle{sh.Open()}, syncd.Options{}, server.Options{})
	otherStore := sh.Open()
	other, err := syncd.Open(otherStore, syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close(); otherStore.Close() })

	ev.commit("d", map[string]any{"x": 0})
	c := ev.dial("")
	c.join("d")
	const n = 5
	for i := 1; i <= n; i++ {
		if _, err := other.Commit(context.Background(), "d", syncd.Edit{Patch: []byte(fmt.Sprintf(`{"x":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
		c.expect("SYNC.DELTAS")
	}

	m := ev.scrape()
	for name, want := range map[string]float64{
		`syncd_cluster_appends_total{outcome="ok"}`:              11,
		`syncd_cluster_appends_total{outcome="conflict"}`:        12,
		`syncd_cluster_appends_total{outcome="unknown"}`:         13,
		`syncd_cluster_appends_total{outcome="failed"}`:          14,
		"syncd_cluster_append_retries_total":                     15,
		"syncd_cluster_append_readbacks_total":                   16,
		"syncd_cluster_snapshots_lost_total":                     17,
		"syncd_cluster_watch_restarts_total":                     18,
		`syncd_cluster_caught_up_operations_total{via="follow"}`: n,
		`syncd_cluster_caught_up_operations_total{via="rebase"}`: 0,
		`syncd_cluster_rebases_total{cause="conflict"}`:          0,
		`syncd_cluster_rebases_total{cause="unknown"}`:           0,
		"syncd_cluster_redecided_total":                          0,
		"syncd_cluster_follow_lag_revisions_sum":                 n,
		"syncd_cluster_follow_delay_seconds_count":               n,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	follows := m["syncd_cluster_follows_total"]
	if follows < 1 || m["syncd_cluster_follow_lag_revisions_count"] != follows {
		t.Errorf("follows %v, follow lag observations %v", follows, m["syncd_cluster_follow_lag_revisions_count"])
	}
	if m[`syncd_cluster_follow_lag_revisions_bucket{le="+Inf"}`] != follows {
		t.Errorf("follow lag +Inf bucket %v, want %v", m[`syncd_cluster_follow_lag_revisions_bucket{le="+Inf"}`], follows)
	}
}

// A store of one writer has no cluster metrics at all.
func TestClusterMetricsAbsentOnOneWriter(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	ev.commit("d", map[string]any{"x": 0})
	for name := range ev.scrape() {
		if strings.HasPrefix(name, "syncd_cluster_") || strings.HasPrefix(name, "syncd_nats_") {
			t.Errorf("one writer's /metrics has %s", name)
		}
	}
}

// WatchNATS shows the NATS link's state as it is at each scrape; the node's
// gauges only in embedded mode.
func TestNATSMetrics(t *testing.T) {
	// Scrapes read the state on the server's goroutines.
	var mu sync.Mutex
	state := server.NATSState{Connected: true, Reconnects: 2}
	m := server.NewMetrics()
	m.WatchNATS(func() server.NATSState { mu.Lock(); defer mu.Unlock(); return state })
	ev := newEnv(t, syncd.Options{}, server.Options{Metrics: m})
	got := ev.scrape()
	if got["syncd_nats_connected"] != 1 || got["syncd_nats_reconnects_total"] != 2 {
		t.Fatalf("connected %v, reconnects %v; want 1, 2", got["syncd_nats_connected"], got["syncd_nats_reconnects_total"])
	}
	for _, name := range []string{"syncd_nats_node_ready", "syncd_nats_meta_leader"} {
		if _, ok := got[name]; ok {
			t.Errorf("external NATS shows %s", name)
		}
	}
	mu.Lock()
	state = server.NATSState{Reconnects: 3, Embedded: true, NodeReady: true}
	mu.Unlock()
	got = ev.scrape()
	for name, want := range map[string]float64{
		"syncd_nats_connected": 0, "syncd_nats_reconnects_total": 3, "syncd_nats_node_ready": 1, "syncd_nats_meta_leader": 0,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}
