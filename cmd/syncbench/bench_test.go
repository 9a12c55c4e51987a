package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// These tests check that the workloads count correctly (every edit sent
// reaches every subscriber, every closed-loop edit is acknowledged), not
// how fast anything is: timing belongs to the benchmark runs.

// startInProcess serves syncd over memstore on 127.0.0.1, with the limits
// the benchmark lifts in a real run (syncdFlags).
func startInProcess(t *testing.T) string {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := syncd.Open(memstore.New(memstore.Options{}), syncd.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(e, server.Options{Logger: logger, Metrics: server.NewMetrics(), Limits: server.Limits{
		MessagesPerSecond: 1e6, Burst: 2e6, UpdatesPerSecond: 1e6, UpdateBurst: 2e6, OutboundQueueBytes: 64 << 20,
	}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
		e.Close()
	})
	return strings.TrimPrefix(hs.URL, "http://")
}

func startRelayInProcess(t *testing.T) string {
	t.Helper()
	hs := httptest.NewServer(newRelay().handler())
	t.Cleanup(hs.Close)
	return strings.TrimPrefix(hs.URL, "http://")
}

func targets(t *testing.T) map[string]target {
	return map[string]target{
		"syncd": {addr: startInProcess(t), doc: "bench:test"},
		"relay": {addr: startRelayInProcess(t), relay: true, doc: "bench:test"},
	}
}

var testParams = params{warmup: 200 * time.Millisecond, duration: time.Second, window: 64, editBytes: 100}

func TestFanoutCountsEveryDelivery(t *testing.T) {
	for name, tg := range targets(t) {
		t.Run(name, func(t *testing.T) {
			const subs = 5
			r, err := runFanout(context.Background(), tg, nil, subs, testParams)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", r)
			if r.Sent == 0 || r.Ops == 0 || r.Deliveries == 0 {
				t.Fatalf("nothing happened: %+v", r)
			}
			if r.Received != r.Sent*subs || r.Lost != 0 {
				t.Errorf("received %d deliveries, want sent %d × %d subscribers", r.Received, r.Sent, subs)
			}
			if r.Deliveries > r.Received {
				t.Errorf("deliveries in the window %d > received in the run %d", r.Deliveries, r.Received)
			}
			if r.Errors != 0 {
				t.Errorf("%d errors", r.Errors)
			}
			if r.P50us <= 0 || r.P99us < r.P50us || r.MaxUs < r.P99us {
				t.Errorf("latencies out of order: %+v", r)
			}
		})
	}
}

func TestWritersAcknowledgesEveryEdit(t *testing.T) {
	for name, tg := range targets(t) {
		t.Run(name, func(t *testing.T) {
			const clients = 3
			r, err := runWriters(context.Background(), tg, nil, clients, testParams)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", r)
			if r.Commits == 0 {
				t.Fatalf("no commits: %+v", r)
			}
			if r.Sent != r.Acked || r.Errors != 0 {
				t.Errorf("sent %d, acknowledged %d, refused %d", r.Sent, r.Acked, r.Errors)
			}
			if r.Commits > r.Acked {
				t.Errorf("commits in the window %d > acknowledged %d", r.Commits, r.Acked)
			}
		})
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	for v := int64(1); v <= 100000; v++ {
		h.add(v * 1000) // 1 µs … 100 ms
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < -0.02 || d > 0.02 {
			t.Errorf("quantile(%v) = %v, want %v ± 2%%", c.q, got, c.want)
		}
	}
	for v := int64(0); v < 1<<20; v += 997 {
		if lo := lowOf(bucketOf(v)); lo > v || float64(v-lo) > float64(v)/64+1 {
			t.Fatalf("bucket of %d starts at %d", v, lo)
		}
	}
	if h.max != 100000*1000 {
		t.Errorf("max %d", h.max)
	}
}

func TestProcReadsSelf(t *testing.T) {
	if _, err := procCPU(1); err != nil {
		t.Skip("no /proc:", err)
	}
	rss, err := procRSS(selfPID())
	if err != nil || rss <= 0 {
		t.Errorf("procRSS: %d, %v", rss, err)
	}
}

func TestCatchupReachesTheHead(t *testing.T) {
	tg := target{addr: startInProcess(t), doc: "bench:catchup"}
	r, err := runCatchup(context.Background(), tg, 10, testParams)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Mode != "deltas" || r.Bytes <= 0 || r.SnapBytes <= int64(r.DocBytes) || r.DocBytes < 50<<10 {
		t.Errorf("10 behind a ~100 KB document: %+v", r)
	}
}

// TestCatchupKeyModes: 1,000 behind, edits of random keys and round-robin
// edits (which rewrite every key, but only its stamp changes) both compact
// to one combined operation smaller than the snapshot.
func TestCatchupKeyModes(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a document with 2,000 edits per mode")
	}
	for _, tc := range []struct{ keys, mode string }{{"random", "deltas (compacted)"}, {"roundrobin", "deltas (compacted)"}} {
		p := testParams
		p.keys = tc.keys
		tg := target{addr: startInProcess(t), doc: "bench:catchup-" + tc.keys}
		r, err := runCatchup(context.Background(), tg, 1000, p)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %+v", tc.keys, r)
		if r.Mode != tc.mode {
			t.Errorf("%s keys, 1,000 behind: %s, want %s", tc.keys, r.Mode, tc.mode)
		}
		if r.Bytes >= r.SnapBytes || r.Combined == 0 {
			t.Errorf("%s keys, 1,000 behind: %d bytes (%d combined ops), snapshot %d", tc.keys, r.Bytes, r.Combined, r.SnapBytes)
		}
	}
}

func TestIdleHoldsConnections(t *testing.T) {
	tg := target{addr: startInProcess(t)}
	r, err := runIdle(context.Background(), nil, tg, 30, params{duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Connections != 30 {
		t.Errorf("%+v", r)
	}
}

// TestWritersSpreadOverDocuments: with -docs, client i edits document
// i mod docs, and every edit is still acknowledged by its own echo.
func TestWritersSpreadOverDocuments(t *testing.T) {
	tg := target{addr: startInProcess(t), doc: "bench:spread", docs: 3}
	for i, want := range []string{"bench:spread-0", "bench:spread-1", "bench:spread-2", "bench:spread-0"} {
		if got := tg.at(i).doc; got != want {
			t.Fatalf("connection %d joins %q, want %q", i, got, want)
		}
	}
	r, err := runWriters(context.Background(), tg, nil, 6, testParams)
	if err != nil {
		t.Fatal(err)
	}
	if r.Docs != 3 || r.Commits == 0 || r.Sent != r.Acked || r.Errors != 0 {
		t.Fatalf("docs %d, commits %d, sent %d, acknowledged %d, refused %d", r.Docs, r.Commits, r.Sent, r.Acked, r.Errors)
	}
}
