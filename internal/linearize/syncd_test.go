package linearize

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/deltasync/syncd/internal/syncdproc"
)

const testAPIKey = "linearize-test-key"

// TestSyncdIsLinearizable runs a real syncd (a child process, bolt store)
// with concurrent SDK writers and readers (HTTP GET and JOIN), records the
// history and checks it. Then it corrupts one read of that real history
// into a stale one and requires the checker to reject it, so that the
// check cannot pass merely because the history says too little.
func TestSyncdIsLinearizable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a syncd process; skipped under -short")
	}
	p := syncdproc.Start(t, syncdproc.Options{Args: []string{"-api-key", testAPIKey}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := Run(ctx, Workload{
		URLs:    []string{p.URL},
		Doc:     "linearize/one",
		APIKey:  testAPIKey,
		Writers: 4, Commits: 30,
		Readers: 3, Reads: 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.RequireUp()
	t.Logf("history: %s", h)
	requireRich(t, h)
	Require(t, h)

	bad, ok := staleCopy(h)
	if !ok {
		t.Fatal("no read of the history comes after an acknowledged commit: nothing to corrupt")
	}
	if res, _ := Check(bad); res != porcupine.Illegal {
		t.Fatalf("a real history with one read made stale checks %s, want Illegal", res)
	}
}

// requireRich fails if the history is too thin to say much: every commit
// answered, and reads that saw several different revisions.
func requireRich(t *testing.T, h History) {
	t.Helper()
	revs := map[uint64]bool{}
	for _, op := range h.Ops {
		in, out := op.Input.(Input), op.Output.(Output)
		if in.Kind == Commit && (out.Unknown || out.Refused) {
			t.Errorf("commit %s: %+v; on a healthy server every commit is answered", in.Key, out)
		}
		if in.Kind == Read {
			revs[out.Rev] = true
		}
	}
	if len(revs) < 3 {
		t.Fatalf("the reads saw only %d revisions; the run did not interleave", len(revs))
	}
}

// staleCopy returns h with the last read that started after some commit
// returned turned into a read of the initial state.
func staleCopy(h History) (History, bool) {
	firstAck := int64(-1)
	for _, op := range h.Ops {
		if op.Input.(Input).Kind == Commit && !op.Output.(Output).Unknown && (firstAck < 0 || op.Return < firstAck) {
			firstAck = op.Return
		}
	}
	ops := append(h.Ops[:0:0], h.Ops...)
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i].Input.(Input).Kind == Read && firstAck >= 0 && ops[i].Call > firstAck {
			ops[i].Output = Output{Epoch: h.Init.Epoch, Rev: h.Init.Rev, Keys: keysOf(h.Init)}
			return History{Init: h.Init, Ops: ops}, true
		}
	}
	return h, false
}

func keysOf(s State) []string {
	if s.Keys == "" {
		return nil
	}
	return splitKeys(s.Keys)
}

// TestSyncdIsLinearizableAcrossFailover: the same workload while the
// server is killed (SIGKILL) and restarted on its data directory at the
// clients' other URL. Every client fails over; commits made meanwhile
// complete once; reads that failed are left out; the history must still
// be linearizable (acknowledged commits survive the crash, none is applied
// twice, and no read after the restart is older than one before it).
func TestSyncdIsLinearizableAcrossFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs syncd processes; skipped under -short")
	}
	data := t.TempDir()
	args := []string{"-api-key", testAPIKey}
	p1 := syncdproc.Start(t, syncdproc.Options{DataDir: data, Args: args})
	addr2 := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	type result struct {
		h   History
		err error
	}
	done := make(chan result, 1)
	started := make(chan struct{})
	go func() {
		h, err := Run(ctx, Workload{
			URLs:    []string{p1.URL, "http://" + addr2},
			Doc:     "linearize/failover",
			APIKey:  testAPIKey,
			Writers: 4, Commits: 40,
			Readers: 2, Reads: 40,
			Pause:   5 * time.Millisecond,
			Started: func() { close(started) },
		})
		done <- result{h, err}
	}()
	select {
	case <-started:
	case r := <-done:
		t.Fatalf("the workload did not start: %v", r.err)
	}
	time.Sleep(100 * time.Millisecond) // into the run
	select {
	case <-done:
		t.Fatal("the workload ended before the kill; make it longer")
	default:
	}
	p1.Kill()
	time.Sleep(50 * time.Millisecond) // clients notice, retry, queue edits
	p2 := syncdproc.Start(t, syncdproc.Options{DataDir: data, Args: append(args, "-addr", addr2)})
	var h History
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		h = r.h
	case <-ctx.Done():
		t.Fatal("the workload did not finish")
	}
	p2.RequireUp()
	t.Logf("history: %s", h)
	Require(t, h)
}

// freeAddr returns a loopback address nothing listens on (a port the
// system handed out and that was closed again).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
