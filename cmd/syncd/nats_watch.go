package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/deltasync/syncd/internal/natsnode"
)

// The NATS watchdog of -store nats (docs/cluster.md, "Failures"). Every
// probe interval it asks JetStream for the stream's information, which the
// stream's leader answers: an answer says both that this instance can
// settle edits now and which node leads the stream (for /readyz, the
// syncd_nats_stream_leader metric and the log). While probes fail, /readyz
// answers 503; once they have failed for -nats-cutoff, the server is cut
// off (server.CutOff: every WebSocket closed with 1013, new ones refused),
// so that clients resume on instances that can commit rather than wait
// here. The first answer after that restores it. A connection that is down
// fails at once; one that is silently dead (a network that drops packets)
// fails by the probe's timeout, long before NATS's own pings notice.

// DefaultNATSCutoff is -nats-cutoff's default: longer than a stream leader
// election, which every instance sees as failed probes (JetStream's Raft
// waits 4 to 9 s before it calls one, and the vote takes more on a loaded
// machine): closing connections then would only move clients between
// instances that all wait for the same election.
const DefaultNATSCutoff = 20 * time.Second

// natsWatch is the watchdog; Main owns it (start/stop).
type natsWatch struct {
	m       *Main
	stream  string
	cutoff  time.Duration
	every   time.Duration // probe interval
	timeout time.Duration // bound of one probe

	mu           sync.Mutex
	leader       string    // the stream's leader at the last answer
	err          error     // the last probe's failure, nil after an answer
	failingSince time.Time // start of the current run of failures
	cut          bool      // the server is cut off

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// probeTiming derives the probe interval and timeout from the cut-off:
// several probes fit in it, at most one a second (a probe is a request to
// the stream leader), and a probe may take twice the interval.
func probeTiming(cutoff time.Duration) (every, timeout time.Duration) {
	every = min(max(cutoff/5, 100*time.Millisecond), time.Second)
	return every, 2 * every
}

// startNATSWatch starts the watchdog (with -store nats, once the server
// exists).
func (m *Main) startNATSWatch() {
	every, timeout := probeTiming(m.Config.Cluster.Cutoff)
	w := &natsWatch{
		m: m, stream: m.Config.Cluster.Prefix, cutoff: m.Config.Cluster.Cutoff,
		every: every, timeout: timeout,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	m.natsWatch = w
	go w.run()
}

// stopNATSWatch stops the watchdog and waits for it (at shutdown, before
// the server is shut down, so that a cut-off never races the shutdown).
func (m *Main) stopNATSWatch() {
	if w := m.natsWatch; w != nil {
		w.stopOnce.Do(func() { close(w.stop) })
		<-w.done
	}
}

func (w *natsWatch) run() {
	defer close(w.done)
	w.probe() // at once: the first leader is worth logging
	tick := time.NewTicker(w.every)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
			w.probe()
		}
	}
}

// probe asks once and acts on the answer.
func (w *natsWatch) probe() {
	err := w.m.natsReady()
	var leader string
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
		leader, err = natsnode.StreamLeader(ctx, w.m.nats.conn, w.stream)
		cancel()
	}
	now := time.Now()
	log := w.m.Logger
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		if w.cut {
			w.m.server.Restore()
			log.Info("NATS answers again: accepting connections", "after", now.Sub(w.failingSince).Round(time.Millisecond))
		} else if w.err != nil {
			log.Info("NATS answers again", "after", now.Sub(w.failingSince).Round(time.Millisecond))
		}
		if leader != w.leader {
			log.Info("nats stream leader", "stream", w.stream, "leader", leader, "this_node", leader == w.m.nodeName())
		}
		w.leader, w.err, w.cut = leader, nil, false
		return
	}
	if w.err == nil {
		w.failingSince = now
		log.Warn("NATS does not answer: edits wait unacknowledged; /readyz answers 503", "err", err, "cutoff", w.cutoff)
	}
	w.err = err
	if !w.cut && now.Sub(w.failingSince) >= w.cutoff {
		w.cut = true
		reason := fmt.Sprintf("no answer from NATS for %v: %v", now.Sub(w.failingSince).Round(time.Millisecond), err)
		log.Error("cut off from NATS: closing every connection with 1013 and refusing new ones until NATS answers", "err", err, "cutoff", w.cutoff)
		w.m.server.CutOff(reason)
	}
}

// state returns the leader at the last answer and the last probe's
// failure (nil when it answered, or before the first probe).
func (w *natsWatch) state() (leader string, err error) {
	if w == nil {
		return "", nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.leader, w.err
}

// leadsStream reports whether this instance's embedded node led the stream
// at the last answer (the syncd_nats_stream_leader metric).
func (m *Main) leadsStream() bool {
	leader, err := m.natsWatch.state()
	return err == nil && leader != "" && leader == m.nodeName()
}
