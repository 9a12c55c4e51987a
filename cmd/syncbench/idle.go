package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// idleDocs is how many documents the idle connections are spread over.
const idleDocs = 20

// idleRun is one run of idle.
type idleRun struct {
	Connections int     `json:"connections"`
	RSSBefore   int64   `json:"serverRssBeforeBytes"`
	RSSAfter    int64   `json:"serverRssAfterBytes"`
	KiBPerConn  float64 `json:"serverKiBPerConn"`
	ConnectSec  float64 `json:"connectSec"`
	// From syncd's /metrics (the Go collector), growth per connection:
	// where the memory goes, since syncd has no heap profile endpoint.
	GoroutinesPerConn float64 `json:"goroutinesPerConn,omitempty"`
	HeapKiBPerConn    float64 `json:"heapInuseKiBPerConn,omitempty"`
	StackKiBPerConn   float64 `json:"stackInuseKiBPerConn,omitempty"`
}

// runIdle opens conns connections, each joined to one of idleDocs
// documents, holds them for p.duration (the server's garbage collector
// settles), and reports the server's RSS growth per connection. The
// documents are joined once before the baseline so that their own memory
// is not charged to the connections.
func runIdle(ctx context.Context, srv *serverProc, t target, conns int, p params) (idleRun, error) {
	r := idleRun{Connections: conns}
	docTarget := func(i int) target {
		d := t
		d.doc = fmt.Sprintf("bench:idle-%d", i%idleDocs)
		return d
	}
	first, err := connectEach(ctx, idleDocs, docTarget)
	if err != nil {
		return r, err
	}
	for _, w := range first {
		w.close()
	}
	sleepCtx(ctx, p.warmup)
	r.RSSBefore, _ = srv.rss()
	m0 := srv.goMetrics()
	start := time.Now()
	all, err := connectEach(ctx, conns, docTarget)
	if err != nil {
		return r, fmt.Errorf("connect: %w", err)
	}
	r.ConnectSec = time.Since(start).Seconds()
	sleepCtx(ctx, p.duration)
	r.RSSAfter, _ = srv.rss()
	m1 := srv.goMetrics()
	for _, w := range all {
		w.close()
	}
	if conns > 0 {
		r.KiBPerConn = float64(r.RSSAfter-r.RSSBefore) / float64(conns) / 1024
		if m0 != nil && m1 != nil {
			per := func(k string) float64 { return (m1[k] - m0[k]) / float64(conns) }
			r.GoroutinesPerConn = per("go_goroutines")
			r.HeapKiBPerConn = per("go_memstats_heap_inuse_bytes") / 1024
			r.StackKiBPerConn = per("go_memstats_stack_inuse_bytes") / 1024
		}
	}
	return r, ctx.Err()
}

// goMetrics reads the Go runtime gauges of syncd's /metrics (nil for the
// relay, or when unreachable).
func (s *serverProc) goMetrics() map[string]float64 {
	if s == nil || s.relay || s.addr == "" {
		return nil
	}
	resp, err := statsClient.Get("http://" + s.addr + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		switch name {
		case "go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes":
			if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); ok && err == nil {
				out[name] = f
			}
		}
	}
	return out
}
