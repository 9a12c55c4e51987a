package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// Health and metrics: /healthz, /readyz, and /metrics from a registry of
// each server's own, so two servers in one process count separately.

// scrape fetches /metrics and returns each sample line's value by its
// name with labels, as written ("syncd_messages_in_total{type=\"JOIN\"}").
func (ev *env) scrape() map[string]float64 {
	ev.t.Helper()
	code, body, hdr := ev.do("GET", "/metrics", "", nil)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		ev.t.Fatalf("/metrics: HTTP %d %q", code, hdr.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			ev.t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestHealthAndReadiness(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body, _ := ev.do("GET", p, "", nil); code != http.StatusOK || len(body) == 0 {
			t.Fatalf("%s: HTTP %d %q", p, code, body)
		}
	}
	// /ws without an upgrade is refused politely.
	if code, _, _ := ev.do("GET", "/ws", "", nil); code != http.StatusUpgradeRequired {
		t.Fatalf("/ws without upgrade: HTTP %d", code)
	}
}

func TestMetricsPerServer(t *testing.T) {
	one := newEnv(t, syncd.Options{}, server.Options{})
	two := newEnv(t, syncd.Options{}, server.Options{})

	c := one.dial("")
	c.join("m/doc")
	c.edit("m/doc", map[string]any{"a": 1})
	c.send(protocol.TypeJoin, map[string]any{"doc": "no way"})
	c.expectError(protocol.CodeInvalidArgument)

	m1, m2 := one.scrape(), two.scrape()
	for name, want := range map[string]float64{
		"syncd_connections":                              1,
		`syncd_messages_in_total{type="JOIN"}`:           2,
		`syncd_messages_in_total{type="UPDATE"}`:         1,
		`syncd_messages_out_total{type="HELLO"}`:         1,
		`syncd_messages_out_total{type="SYNC.SNAPSHOT"}`: 1,
		`syncd_messages_out_total{type="SYNC.DELTAS"}`:   1,
		`syncd_catchups_total{kind="snapshot"}`:          1,
		"syncd_operations_total":                         1,
		"syncd_commit_seconds_count":                     1,
		"syncd_queue_overflows_total":                    0,
		// One edit: nobody to wait for.
		`syncd_commit_gathers_total{outcome="complete"}`: 0,
		`syncd_commit_gathers_total{outcome="timeout"}`:  0,
	} {
		if m1[name] != want {
			t.Errorf("server one: %s = %v, want %v", name, m1[name], want)
		}
	}
	if m1["syncd_store_commits_total"] < 1 || m1["syncd_store_commit_seconds_count"] < 1 {
		t.Errorf("server one: store commits not counted: %v %v", m1["syncd_store_commits_total"], m1["syncd_store_commit_seconds_count"])
	}
	if _, ok := m1["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	// Server two saw nothing of it.
	for name, v := range m2 {
		if strings.HasPrefix(name, "syncd_") && !strings.Contains(name, "_bucket") && v != 0 {
			t.Errorf("server two: %s = %v, want 0", name, v)
		}
	}
	if m2["syncd_connections"] != 0 {
		t.Error("server two counts server one's connection")
	}

	// Connections go down when clients leave.
	c.ws.Close()
	waitFor(t, readTimeout, "the connection gauge to drop", func() bool { return one.metricValue("syncd_connections") == 0 })
}

// TestNewLeavesMetricsAlone: server.New does not register anything in the
// caller's Metrics; what it reads from the engine and the router at scrape
// time is its own, served beside them at /metrics and by Gatherer.
func TestNewLeavesMetricsAlone(t *testing.T) {
	m := server.NewMetrics()
	before := familyNames(t, m.Registry)
	ev := newEnv(t, syncd.Options{}, server.Options{Metrics: m})
	if after := familyNames(t, m.Registry); !slices.Equal(before, after) {
		t.Fatalf("New changed the caller's registry: %v, then %v", before, after)
	}
	served := ev.scrape()
	all := familyNames(t, ev.server.Gatherer())
	for _, name := range []string{"syncd_operations_total", "syncd_room_messages_dropped_total", "syncd_connections"} {
		if _, ok := served[name]; !ok {
			t.Errorf("/metrics has no %s", name)
		}
		if !slices.Contains(all, name) {
			t.Errorf("Gatherer has no %s", name)
		}
	}
}

func familyNames(t *testing.T, g prometheus.Gatherer) []string {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(fams))
	for i, f := range fams {
		names[i] = f.GetName()
	}
	return names
}

// TestWriteTimeoutDisconnectsAStalledReader: Limits.WriteTimeout (the
// -write-timeout flag) reaches the router: a client that accepts no bytes
// while its queue is far from full is disconnected once one write has
// made no progress for that long; the other connections stay.
func TestWriteTimeoutDisconnectsAStalledReader(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{Limits: server.Limits{
		WriteTimeout: 300 * time.Millisecond, OutboundQueueBytes: 256 << 20,
	}})
	const doc = "limits/write-timeout"
	stalled := ev.dialWith(dialOpts{clientID: newClientID(), rcvBuf: 4 << 10})
	stalled.join(doc)
	live := ev.dial("")
	live.join(doc)
	// 64 KiB operations until the stalled socket's buffers are full and a
	// write blocks (bounded: 32 MiB in all).
	big := strings.Repeat("x", 64<<10)
	ctx := context.Background()
	for i := 0; i < 512 && ev.metricValue("syncd_connections") == 2; i++ {
		if _, err := ev.engine.Commit(ctx, doc, syncd.Edit{Patch: []byte(fmt.Sprintf(`{"k%d":%q}`, i%8, big))}); err != nil {
			t.Fatal(err)
		}
		live.drain()
	}
	waitFor(t, 5*time.Second, "the stalled reader to be disconnected", func() bool { return ev.metricValue("syncd_connections") == 1 })
	if n := ev.metricValue("syncd_queue_overflows_total"); n != 0 {
		t.Fatalf("closed for a full queue (%v), not for the write timeout", n)
	}
	live.alive()
}
