package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// phases of a run: subscribers count into the measurement only while
// measuring, but always count their total, which the drain checks.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseDone
)

// params are the settings every workload shares.
type params struct {
	warmup, duration time.Duration
	window           int // fanout: most unacknowledged edits
	editBytes        int
	keys             string // catchup: which keys the edits behind touch (catchupKeyModes)
	docs             int    // writers: documents the clients are spread over
}

// fanoutRun is one run of fanout.
type fanoutRun struct {
	Subscribers      int     `json:"subscribers"`
	Seconds          float64 `json:"seconds"`
	Ops              int64   `json:"ops"`        // acknowledged to the writer in the window
	Deliveries       int64   `json:"deliveries"` // counted at subscribers in the window
	OpsPerSec        float64 `json:"opsPerSec"`
	DeliveriesPerSec float64 `json:"deliveriesPerSec"`
	P50us            float64 `json:"p50us"`
	P99us            float64 `json:"p99us"`
	MaxUs            float64 `json:"maxUs"`
	ServerCPUSec     float64 `json:"serverCpuSec,omitempty"`
	CPUPer1k         float64 `json:"serverCpuSecPer1kDeliveries,omitempty"`
	ServerRSS        int64   `json:"serverRssBytes,omitempty"`
	// GenCPUSec is this generator's own CPU in the window: near the
	// window's length, the generator (one core) is the bottleneck.
	GenCPUSec float64 `json:"generatorCpuSec"`
	// Over the whole run, warm-up included, after the drain: every edit
	// sent must reach every subscriber (Lost = Sent×subscribers − Received).
	// OpsPerFrame: operations per received frame at subscribers in the
	// window. The relay sends one frame per edit; syncd may put several
	// operations of one commit batch in one SYNC.DELTAS (PROTOCOL §5.3),
	// which is where its per-delivery cost can fall below the relay's.
	OpsPerFrame float64 `json:"opsPerFrame"`
	Sent        int64   `json:"sent"`
	Received    int64   `json:"received"`
	Lost        int64   `json:"lost"`
	Errors      int64   `json:"errors"`
	// Relay only: messages written per write system call in the window.
	MsgsPerWrite float64 `json:"relayMsgsPerWrite,omitempty"`
}

type subscriber struct {
	w      *wsConn
	total  atomic.Int64 // operations received, whole run
	count  int64        // in the window; read after the goroutine ends
	frames int64        // frames with operations, in the window
	h      hist
}

// connectAll opens n connections, a few at a time (a burst of 1,000
// handshakes at once would only measure the accept backlog), spread over
// a cluster's instances.
func connectAll(ctx context.Context, t target, n int) ([]*wsConn, error) {
	return connectEach(ctx, n, t.at)
}

// connectEach opens n connections, the i-th to target(i).
func connectEach(ctx context.Context, n int, target func(i int) target) ([]*wsConn, error) {
	out := make([]*wsConn, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			w, err := connect(ctx, target(i))
			if err != nil {
				errs <- err
				return
			}
			out[i] = w
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		for _, w := range out {
			if w != nil {
				w.close()
			}
		}
		return nil, err
	}
	return out, nil
}

// runFanout runs fanout once against a server at t; srv (may be nil)
// is the server process whose CPU and memory are read.
func runFanout(ctx context.Context, t target, srv *serverProc, subs int, p params) (fanoutRun, error) {
	r := fanoutRun{Subscribers: subs}
	conns, err := connectAll(ctx, t, subs+1)
	if err != nil {
		return r, fmt.Errorf("connect: %w", err)
	}
	writer := conns[subs]
	var phase atomic.Int32
	var errCount atomic.Int64

	subsList := make([]*subscriber, subs)
	var readers sync.WaitGroup
	for i := range subs {
		s := &subscriber{w: conns[i]}
		subsList[i] = s
		readers.Go(func() {
			for {
				msg, err := s.w.read()
				if err != nil {
					return // closed at the end of the run (or dropped: Lost says)
				}
				if isError(msg) {
					errCount.Add(1)
					continue
				}
				if !isOps(msg) {
					continue
				}
				now := nowNano()
				measuring := phase.Load() == phaseMeasure
				if measuring {
					s.frames++
				}
				stamps(msg, func(st int64) {
					s.total.Add(1)
					if measuring {
						s.count++
						s.h.add(now - st)
					}
				})
			}
		})
	}

	// The writer: at most p.window edits unacknowledged. Its reader
	// releases one slot per own operation echoed back.
	var acked, sent atomic.Int64
	slots := make(chan struct{}, p.window)
	stop := make(chan struct{})
	readers.Go(func() {
		for {
			msg, err := writer.read()
			if err != nil {
				return
			}
			if isError(msg) {
				errCount.Add(1)
				continue
			}
			if isOps(msg) {
				stamps(msg, func(int64) {
					acked.Add(1)
					select {
					case <-slots:
					default:
					}
				})
			}
		}
	})
	senderDone := make(chan error, 1)
	go func() {
		var buf []byte
		for seq := 1; ; seq++ {
			select {
			case <-stop:
				senderDone <- nil
				return
			case slots <- struct{}{}:
			}
			buf = edit(buf[:0], t.doc, fmt.Sprintf("k%d", seq%1000), reqID(0, seq), nowNano(), p.editBytes)
			if err := writer.c.WriteMessage(websocket.TextMessage, buf); err != nil {
				senderDone <- err
				return
			}
			sent.Add(1)
		}
	}()

	win := measure(ctx, srv, &phase, p, &acked)
	r.ServerRSS, _ = srv.rss()
	close(stop)
	werr := <-senderDone

	// Drain: every edit sent must reach the writer and every subscriber.
	r.Sent = sent.Load()
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); {
		done := acked.Load() >= r.Sent
		for _, s := range subsList {
			if s.total.Load() < r.Sent {
				done = false
				break
			}
		}
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, w := range conns {
		w.close()
	}
	readers.Wait()

	var h hist
	var frames int64
	for _, s := range subsList {
		frames += s.frames
		r.Received += s.total.Load()
		r.Deliveries += s.count
		h.merge(&s.h)
	}
	r.Seconds = win.seconds
	r.GenCPUSec = win.genCPU
	r.Ops = win.counted
	r.OpsPerSec = float64(r.Ops) / r.Seconds
	r.DeliveriesPerSec = float64(r.Deliveries) / r.Seconds
	r.P50us = us(h.quantile(0.5))
	r.P99us = us(h.quantile(0.99))
	r.MaxUs = us(time.Duration(h.max))
	r.Lost = r.Sent*int64(subs) - r.Received
	if frames > 0 {
		r.OpsPerFrame = float64(r.Deliveries) / float64(frames)
	}
	r.Errors = errCount.Load()
	r.ServerCPUSec = win.serverCPU
	if r.Deliveries > 0 {
		r.CPUPer1k = r.ServerCPUSec / float64(r.Deliveries) * 1000
	}
	r.MsgsPerWrite = win.msgsPerWrite()
	if werr != nil {
		return r, fmt.Errorf("writer: %w", werr)
	}
	return r, ctx.Err()
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
