package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd/internal/natsnode"
	"github.com/nats-io/nats-server/v2/server"
)

// The cluster's metrics on /metrics of a syncd with -store nats and the
// real NATS store: two instances on one external NATS server, where one's
// client sees the other's edits, and one embedded node.

// bootNATSStore runs the program with -store nats and args, on the real
// store (store/natsstore).
func bootNATSStore(t *testing.T, env map[string]string, args ...string) *Main {
	t.Helper()
	m := NewMain()
	logs := &syncBuffer{}
	m.Stdout, m.Stderr = io.Discard, logs
	m.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	all := append([]string{"-addr", "127.0.0.1:0", "-drain", "0", "-store", "nats"}, args...)
	if err := m.ParseFlags(all, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("Run: %v\nlogs:\n%s", err, logs.String())
	}
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() { m.Close() })
		if t.Failed() {
			t.Logf("syncd logs:\n%s", logs.String())
		}
	})
	return m
}

// scrapeMetrics returns /metrics's samples by name with labels, as written.
func scrapeMetrics(t *testing.T, m *Main) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestNATSClusterMetrics(t *testing.T) {
	o := &server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: t.TempDir(),
		MaxPayload: int32(natsnode.MaxMessageBytes(1 << 20)),
	}
	ns, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() }) // after the instances' cleanups
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	args := []string{"-nats-url", ns.ClientURL(), "-nats-replicas", "1", "-max-doc-bytes", strconv.Itoa(1 << 20)}
	a, b := bootNATSStore(t, nil, args...), bootNATSStore(t, nil, args...)

	reader := dialWS(t, wsURL(a), "", nil)
	writer := dialWS(t, wsURL(b), "", nil)
	writer.send("JOIN", map[string]any{"doc": "m"})
	writer.expect("SYNC.SNAPSHOT", nil)
	writer.edit("m", "r-0", map[string]any{"x": 0})
	reader.send("JOIN", map[string]any{"doc": "m"})
	reader.expect("SYNC.SNAPSHOT", nil)
	const n = 5
	for i := 1; i <= n; i++ {
		writer.edit("m", fmt.Sprintf("r-%d", i), map[string]any{"x": i})
		var d deltas
		reader.expect("SYNC.DELTAS", &d) // followed by A from the log
	}

	ma, mb := scrapeMetrics(t, a), scrapeMetrics(t, b)
	if got := mb[`syncd_cluster_appends_total{outcome="ok"}`]; got < n+1 {
		t.Errorf("B's ok appends: %v, want at least %d", got, n+1)
	}
	if got := ma[`syncd_cluster_caught_up_operations_total{via="follow"}`]; got != n {
		t.Errorf("A caught up %v operations by follows, want %d", got, n)
	}
	if ma["syncd_cluster_follows_total"] < 1 || ma["syncd_cluster_follow_lag_revisions_count"] != ma["syncd_cluster_follows_total"] ||
		ma["syncd_cluster_follow_delay_seconds_count"] != n {
		t.Errorf("A's follows %v, lag observations %v, delay observations %v", ma["syncd_cluster_follows_total"],
			ma["syncd_cluster_follow_lag_revisions_count"], ma["syncd_cluster_follow_delay_seconds_count"])
	}
	for _, name := range []string{
		`syncd_cluster_appends_total{outcome="conflict"}`, `syncd_cluster_appends_total{outcome="unknown"}`,
		`syncd_cluster_appends_total{outcome="failed"}`, "syncd_cluster_append_retries_total",
		"syncd_cluster_append_readbacks_total", "syncd_cluster_snapshots_lost_total",
		`syncd_cluster_rebases_total{cause="conflict"}`, `syncd_cluster_rebases_total{cause="unknown"}`,
		"syncd_cluster_redecided_total", `syncd_cluster_caught_up_operations_total{via="rebase"}`,
		`syncd_cluster_follow_delay_seconds_bucket{le="+Inf"}`, `syncd_cluster_follow_lag_revisions_bucket{le="+Inf"}`,
	} {
		if _, ok := ma[name]; !ok {
			t.Errorf("A's /metrics has no %s", name)
		}
	}
	for _, m := range []map[string]float64{ma, mb} {
		if m["syncd_nats_connected"] != 1 || m["syncd_nats_reconnects_total"] != 0 {
			t.Errorf("NATS link: connected %v, reconnects %v", m["syncd_nats_connected"], m["syncd_nats_reconnects_total"])
		}
		if _, ok := m["syncd_nats_node_ready"]; ok {
			t.Error("external NATS shows the embedded node's readiness")
		}
	}
}

// An embedded node shows its readiness and its meta leader (a single node
// needs none, so it counts as having one).
func TestNATSEmbeddedMetrics(t *testing.T) {
	m := bootNATSStore(t, nil, "-data", t.TempDir())
	c := dialWS(t, wsURL(m), "", nil)
	c.send("JOIN", map[string]any{"doc": "m"})
	c.expect("SYNC.SNAPSHOT", nil)
	c.edit("m", "r-1", map[string]any{"x": 1})
	got := scrapeMetrics(t, m)
	for name, want := range map[string]float64{
		"syncd_nats_connected": 1, "syncd_nats_node_ready": 1, "syncd_nats_meta_leader": 1,
		`syncd_cluster_appends_total{outcome="ok"}`: 1,
	} {
		if v, ok := got[name]; !ok || v < want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}
