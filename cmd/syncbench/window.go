package main

import (
	"context"
	"sync/atomic"
	"time"
)

// window is what one run measured in its measurement window, the time
// between the warm-up and the drain.
type window struct {
	seconds   float64
	serverCPU float64         // seconds of the server process's CPU (0 without one)
	genCPU    float64         // seconds of this generator's CPU
	relay     relayStats      // the relay's messages and writes (zero for syncd)
	counted   int64           // how much the counter given to measure grew
	cluster   clusterCounters // a cluster's store counters, grown in the window
}

// measure waits out the warm-up, then holds phase at phaseMeasure for
// p.duration, reading the server's and this generator's CPU, the relay's
// counters and counter (if not nil) at both ends.
func measure(ctx context.Context, srv *serverProc, phase *atomic.Int32, p params, counter *atomic.Int64) window {
	load := func() int64 {
		if counter == nil {
			return 0
		}
		return counter.Load()
	}
	sleepCtx(ctx, p.warmup)
	cpu0, _ := srv.cpu()
	gen0, _ := procCPU(selfPID())
	stats0 := srv.relayStats()
	k0 := srv.clusterStats()
	c0 := load()
	t0 := time.Now()
	phase.Store(phaseMeasure)
	sleepCtx(ctx, p.duration)
	phase.Store(phaseDone)
	el := time.Since(t0)
	c1 := load()
	cpu1, _ := srv.cpu()
	gen1, _ := procCPU(selfPID())
	stats1 := srv.relayStats()
	k1 := srv.clusterStats()
	return window{
		cluster: clusterCounters{
			appendsOK: k1.appendsOK - k0.appendsOK,
			conflicts: k1.conflicts - k0.conflicts,
			rebases:   k1.rebases - k0.rebases,
		},
		seconds:   el.Seconds(),
		serverCPU: cpu1 - cpu0,
		genCPU:    gen1 - gen0,
		relay:     relayStats{Messages: stats1.Messages - stats0.Messages, Writes: stats1.Writes - stats0.Writes},
		counted:   c1 - c0,
	}
}

// msgsPerWrite is the relay's messages per socket write in the window
// (0 when it wrote nothing, or for syncd).
func (w window) msgsPerWrite() float64 {
	if w.relay.Writes <= 0 {
		return 0
	}
	return float64(w.relay.Messages) / float64(w.relay.Writes)
}
