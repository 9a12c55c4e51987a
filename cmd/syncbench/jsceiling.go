package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd/internal/natsnode"
)

// ceilingRun is one run of the bare JetStream publish loop.
type ceilingRun struct {
	Nodes       int     `json:"nodes"`
	Replicas    int     `json:"replicas"`
	Subjects    int     `json:"subjects"`
	InFlight    int     `json:"inFlight"`
	MsgBytes    int     `json:"msgBytes"`
	Conditional bool    `json:"conditional"`
	Seconds     float64 `json:"seconds"`
	Published   int64   `json:"published"`
	MsgsPerSec  float64 `json:"msgsPerSec"`
	P50us       float64 `json:"p50us"`
	P99us       float64 `json:"p99us"`
	// Resynced counts conditional publishes refused for a wrong last
	// sequence: the subject's last sequence is not the one the loop's
	// last acknowledgement gave (0-7 a run with three nodes on one core;
	// the cause is not known). The loop reads the subject's last sequence
	// and goes on, as syncd's store settles a conflict from the log.
	Resynced int64 `json:"resynced"`
}

// runJSCeiling measures what syncd's cluster store is built on, with
// nothing of syncd: embedded NATS nodes as syncd runs them (natsnode:
// JetStream syncing every write before it acknowledges, routes on
// loopback), one stream of file storage with the given replicas, and a
// loop publishing messages of a given size to a number of subjects, each
// with at most one publish in flight when -conditional (a conditional
// append per subject, as syncd's per-document appends are: the next needs
// the sequence of the last) and -inflight publishes in flight in all. The
// whole process is pinned to CPU 0 with -pin: the nodes and the loop share
// one core, as a syncd cluster's three processes do in the writers
// benchmark, while its load generator has the other.
func runJSCeiling(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("jsceiling", flag.ContinueOnError)
	nodes := fs.Int("nodes", 3, "embedded NATS nodes (1 or 3)")
	subjects := fs.Int("subjects", 1, "subjects published to (documents)")
	inflight := fs.Int("inflight", 1, "publishes in flight in all (at most one per subject with -conditional)")
	msgBytes := fs.Int("msg-bytes", 300, "bytes of each message's body")
	conditional := fs.Bool("conditional", true, "each publish expects the subject's last sequence (Nats-Expected-Last-Subject-Sequence)")
	duration := fs.Duration("duration", 5*time.Second, "measured window")
	warmup := fs.Duration("warmup", time.Second, "warm-up before the window")
	runs := fs.Int("runs", 3, "runs (medians are reported)")
	pin := fs.Bool("pin", true, "pin this process to CPU 0 (taskset)")
	out := fs.String("out", "", "write JSON results to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *nodes != 1 && *nodes != 3 || *subjects < 1 || *inflight < 1 || *msgBytes < 1 || *runs < 1 || *runs > 20 {
		return errors.New("want -nodes 1 or 3, -subjects ≥ 1, -inflight ≥ 1, -msg-bytes ≥ 1, 1 ≤ -runs ≤ 20")
	}
	if *conditional && *inflight > *subjects {
		*inflight = *subjects
	}
	if *pin {
		if err := pinSelfTo("0"); err != nil {
			fmt.Fprintln(os.Stderr, "syncbench:", err)
		}
	}
	var all []map[string]float64
	var results []ceilingRun
	for i := 0; i < *runs && ctx.Err() == nil; i++ {
		fmt.Fprintf(os.Stderr, "jsceiling nodes=%d subjects=%d inflight=%d run %d/%d\n", *nodes, *subjects, *inflight, i+1, *runs)
		r, err := oneCeiling(ctx, *nodes, *subjects, *inflight, *msgBytes, *conditional, *warmup, *duration)
		if err != nil {
			return err
		}
		results = append(results, r)
		all = append(all, flatten(r))
	}
	med := medians(all)
	var resynced int64
	for _, r := range results {
		resynced += r.Resynced
	}
	fmt.Fprintf(stdout, "jsceiling nodes=%d subjects=%d inflight=%d msg=%dB conditional=%v: %.0f msgs/s, p50 %.0f µs, p99 %.0f µs, resynced after a lost acknowledgement %d (medians of %d)\n",
		*nodes, *subjects, *inflight, *msgBytes, *conditional, med["msgsPerSec"], med["p50us"], med["p99us"], resynced, len(results))
	if *out != "" {
		b, _ := json.MarshalIndent(map[string]any{"command": append([]string{"syncbench", "jsceiling"}, args...), "runs": results, "median": med}, "", "  ")
		return os.WriteFile(*out, append(b, '\n'), 0o644)
	}
	return nil
}

// maxCeilingResyncs bounds the wrong-last-sequence refusals a run
// recovers from; past it, something other than a lost acknowledgement is
// wrong, and the run fails.
const maxCeilingResyncs = 100

// wrongLastSeq reports a conditional publish refused for its expected
// sequence (10071; 10164 on replicated streams).
func wrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// oneCeiling starts fresh nodes, runs the loop once and stops them.
func oneCeiling(ctx context.Context, n, subjects, inflight, msgBytes int, conditional bool, warmup, duration time.Duration) (ceilingRun, error) {
	r := ceilingRun{Nodes: n, Replicas: n, Subjects: subjects, InFlight: inflight, MsgBytes: msgBytes, Conditional: conditional}
	dir, err := os.MkdirTemp("", "syncbench-js-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	routes := make([]string, n)
	for i := range routes {
		if routes[i], err = freeAddr(); err != nil {
			return r, err
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	started := make([]*natsnode.Node, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		o := natsnode.Options{Name: "js" + strconv.Itoa(i+1), DataDir: fmt.Sprintf("%s/n%d", dir, i+1), Logger: quiet}
		if n > 1 {
			o.ClusterName, o.ClusterListen, o.Peers, o.RouteSecret = "ceiling", routes[i], routes, clusterSecret
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			started[i], errs[i] = natsnode.Start(ctx, o)
		}()
	}
	wg.Wait()
	defer func() {
		for _, nd := range started {
			if nd != nil {
				nd.Close()
			}
		}
	}()
	if err := errors.Join(errs...); err != nil {
		return r, err
	}
	nc, err := started[0].Connect("syncbench-ceiling")
	if err != nil {
		return r, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return r, err
	}
	cfg := jetstream.StreamConfig{Name: "ceiling", Subjects: []string{"ceiling.>"}, Storage: jetstream.FileStorage, Replicas: n}
	var stream jetstream.Stream
	for try := 0; ; try++ { // a just-formed cluster may not place R3 at once
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		stream, err = js.CreateStream(cctx, cfg)
		cancel()
		if err == nil || try == 20 || ctx.Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		return r, fmt.Errorf("create stream: %w", err)
	}

	body := []byte(strings.Repeat("x", msgBytes))
	var phase atomic.Int32
	var published, resynced atomic.Int64
	hs := make([]hist, inflight)
	loopErrs := make([]error, inflight)
	stop := make(chan struct{})
	var loops sync.WaitGroup
	// Each loop owns subjects i, i+inflight, …: with -conditional, one
	// publish in flight per subject, the next expecting the last's
	// sequence.
	for i := range inflight {
		loops.Add(1)
		go func() {
			defer loops.Done()
			last := map[int]uint64{}
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				subj := i + (k%max(1, subjects/inflight))*inflight
				if subj >= subjects {
					subj = i
				}
				msg := &nats.Msg{Subject: "ceiling." + strconv.Itoa(subj), Data: body, Header: nats.Header{}}
				if conditional {
					msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(last[subj], 10))
				}
				t0 := time.Now()
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				ack, err := js.PublishMsg(pctx, msg)
				cancel()
				if conditional && wrongLastSeq(err) && resynced.Load() < maxCeilingResyncs {
					resynced.Add(1)
					gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					m, gerr := stream.GetLastMsgForSubject(gctx, msg.Subject)
					cancel()
					if gerr != nil {
						loopErrs[i] = fmt.Errorf("after %w: reading the last sequence: %w", err, gerr)
						return
					}
					last[subj] = m.Sequence
					continue
				}
				if err != nil {
					loopErrs[i] = err
					return
				}
				last[subj] = ack.Sequence
				if phase.Load() == phaseMeasure {
					hs[i].add(int64(time.Since(t0)))
					published.Add(1)
				}
			}
		}()
	}
	sleepCtx(ctx, warmup)
	t0 := time.Now()
	phase.Store(phaseMeasure)
	sleepCtx(ctx, duration)
	phase.Store(phaseDone)
	el := time.Since(t0)
	close(stop)
	loops.Wait()
	if err := errors.Join(loopErrs...); err != nil {
		return r, err
	}
	var h hist
	for i := range hs {
		h.merge(&hs[i])
	}
	r.Seconds = el.Seconds()
	r.Published = published.Load()
	r.Resynced = resynced.Load()
	r.MsgsPerSec = float64(r.Published) / r.Seconds
	r.P50us = us(h.quantile(0.5))
	r.P99us = us(h.quantile(0.99))
	return r, ctx.Err()
}
