package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// writersRun is one run of writers.
type writersRun struct {
	Clients       int     `json:"clients"`
	Docs          int     `json:"docs"` // documents the clients are spread over
	Seconds       float64 `json:"seconds"`
	Commits       int64   `json:"commits"` // acknowledged in the window
	CommitsPerSec float64 `json:"commitsPerSec"`
	P50us         float64 `json:"p50us"`
	P99us         float64 `json:"p99us"`
	MaxUs         float64 `json:"maxUs"`
	ServerCPUSec  float64 `json:"serverCpuSec,omitempty"`
	ServerRSS     int64   `json:"serverRssBytes,omitempty"`
	// GenCPUSec is this generator's own CPU in the window: near the
	// window's length, the generator (one core) is the bottleneck.
	GenCPUSec float64 `json:"generatorCpuSec"`
	// Whole run: every edit sent was acknowledged (Sent == Acked) and
	// none was refused.
	Sent   int64 `json:"sent"`
	Acked  int64 `json:"acked"`
	Errors int64 `json:"errors"`
	// ErrorCodes counts the refused edits by error code, and
	// ErrorSamples holds the first few refusals as received
	// (refusals.go).
	ErrorCodes   map[string]int64 `json:"errorCodes,omitempty"`
	ErrorSamples []string         `json:"errorSamples,omitempty"`
	MsgsPerWrite float64          `json:"relayMsgsPerWrite,omitempty"`
	// The sync probe (probe.go) in the data directory's file system,
	// before the clients connect and after they are done, in µs.
	ProbeBeforeP50us float64 `json:"probeBeforeP50us"`
	ProbeBeforeP99us float64 `json:"probeBeforeP99us"`
	ProbeAfterP50us  float64 `json:"probeAfterP50us"`
	ProbeAfterP99us  float64 `json:"probeAfterP99us"`
	// On a cluster (store nats3): the p99 of the clients of each instance
	// (client i uses instance i mod n), and the largest over the smallest,
	// which says whether an instance is starved on a hot document.
	InstanceP99us     []float64 `json:"instanceP99us,omitempty"`
	InstanceP99Spread float64   `json:"instanceP99Spread,omitempty"`
	// On a NATS store: conditional appends that lost the race to another
	// instance, per append stored (the issue's "retries per published
	// batch"), and the rebases they caused, in the window.
	ConflictsPerAppend float64 `json:"conflictsPerAppend,omitempty"`
	AppendsPerSec      float64 `json:"appendsPerSec,omitempty"`
	Rebases            float64 `json:"rebases,omitempty"`
}

type closedLoop struct {
	w           *wsConn
	count       int64
	sent, acked int64
	errors      int64
	refused     refusals
	h           hist
	err         error
}

// runWriters runs writers once: each client sends an edit, waits until its
// own operation comes back, and repeats.
func runWriters(ctx context.Context, t target, srv *serverProc, clients int, p params) (writersRun, error) {
	r := writersRun{Clients: clients, Docs: max(1, t.docs)}
	before, err := probeSync(probeDir(srv))
	if err != nil {
		return r, fmt.Errorf("sync probe: %w", err)
	}
	r.ProbeBeforeP50us, r.ProbeBeforeP99us = before.P50us, before.P99us
	conns, err := connectAll(ctx, t, clients)
	if err != nil {
		return r, fmt.Errorf("connect: %w", err)
	}
	var phase atomic.Int32
	stop := make(chan struct{})
	loops := make([]*closedLoop, clients)
	var wg sync.WaitGroup
	for i := range clients {
		l := &closedLoop{w: conns[i]}
		loops[i] = l
		wg.Go(func() {
			l.err = l.run(conns[i].doc, i, p.editBytes, &phase, stop)
		})
	}
	win := measure(ctx, srv, &phase, p, nil)
	r.ServerRSS, _ = srv.rss()
	close(stop)
	wg.Wait() // each loop finishes its edit in flight (bounded by a read deadline)
	for _, w := range conns {
		w.close()
	}
	after, err := probeSync(probeDir(srv))
	if err != nil {
		return r, fmt.Errorf("sync probe: %w", err)
	}
	r.ProbeAfterP50us, r.ProbeAfterP99us = after.P50us, after.P99us

	var h hist
	var refused refusals
	var firstErr error
	for _, l := range loops {
		r.Commits += l.count
		r.Sent += l.sent
		r.Acked += l.acked
		r.Errors += l.errors
		refused.merge(&l.refused)
		h.merge(&l.h)
		if l.err != nil && firstErr == nil {
			firstErr = l.err
		}
	}
	r.ErrorCodes, r.ErrorSamples = refused.codes, refused.samples
	r.Seconds = win.seconds
	r.GenCPUSec = win.genCPU
	r.CommitsPerSec = float64(r.Commits) / r.Seconds
	r.P50us = us(h.quantile(0.5))
	r.P99us = us(h.quantile(0.99))
	r.MaxUs = us(time.Duration(h.max))
	if n := len(t.addrs); n > 1 {
		per := make([]hist, n)
		for i, l := range loops {
			per[i%n].merge(&l.h)
		}
		lo, hi := 0.0, 0.0
		for i := range per {
			p99 := us(per[i].quantile(0.99))
			r.InstanceP99us = append(r.InstanceP99us, p99)
			if i == 0 || p99 < lo {
				lo = p99
			}
			hi = max(hi, p99)
		}
		if lo > 0 {
			r.InstanceP99Spread = hi / lo
		}
	}
	r.ServerCPUSec = win.serverCPU
	r.MsgsPerWrite = win.msgsPerWrite()
	if k := win.cluster; k.appendsOK > 0 {
		r.ConflictsPerAppend = k.conflicts / k.appendsOK
		r.AppendsPerSec = k.appendsOK / win.seconds
		r.Rebases = k.rebases
	}
	if firstErr != nil {
		return r, firstErr
	}
	return r, ctx.Err()
}

// run is one client's closed loop. It stops at stop, after its edit in
// flight is answered.
func (l *closedLoop) run(doc string, client, size int, phase *atomic.Int32, stop <-chan struct{}) error {
	var buf []byte
	key := fmt.Sprintf("w%d", client)
	for seq := 1; ; seq++ {
		select {
		case <-stop:
			return nil
		default:
		}
		id := reqID(client+1, seq)
		needle := []byte(`"clientReqId":"` + id + `"`)
		start := time.Now()
		buf = edit(buf[:0], doc, key, id, nowNano(), size)
		if err := l.w.c.WriteMessage(websocket.TextMessage, buf); err != nil {
			return err
		}
		l.sent++
		measuring := phase.Load() == phaseMeasure
		// Every client sees every client's operations; its own is the one
		// with its request id (or an error naming it).
		l.w.c.SetReadDeadline(time.Now().Add(15 * time.Second))
		for {
			msg, err := l.w.read()
			if err != nil {
				return fmt.Errorf("client %d waiting for %s: %w", client, id, err)
			}
			if isError(msg) {
				if bytes.Contains(msg, needle) {
					l.errors++
					l.refused.add(msg)
					break
				}
				continue
			}
			if isOps(msg) && bytes.Contains(msg, needle) {
				l.acked++
				if measuring && phase.Load() == phaseMeasure {
					l.count++
					l.h.add(int64(time.Since(start)))
				}
				break
			}
		}
	}
}
