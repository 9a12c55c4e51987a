package syncd_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// hookedOutcomes is a shared store that runs a hook, once, before the
// next read of a client's outcomes: what happens elsewhere between an
// engine's reads of the watermark and of the outcomes.
type hookedOutcomes struct {
	syncd.SharedStore
	hook *atomic.Pointer[func()]
}

func (s hookedOutcomes) Outcomes(ctx context.Context, doc, clientID string) ([]revision.Outcome, error) {
	if h := s.hook.Swap(nil); h != nil {
		(*h)()
	}
	return s.SharedStore.Outcomes(ctx, doc, clientID)
}

// The syncbench hot-document run's refused edits (issue 15: 301 of them,
// one per client of one instance, ALREADY_EXISTS "already decided
// (watermark <its own id>)"): a forward has no answer in time, the client's
// watermark is read from the log before the home's decision lands, the
// forwarding engine follows the log to that decision, and then decides
// the edit itself, which its copy's watermark calls a duplicate. The edit
// was applied; the client must be told so, with its revision.
func TestForwardLateHomeDecisionIsTheAnswer(t *testing.T) {
	var hook atomic.Pointer[func()]
	c := newMemCluster()
	t.Cleanup(c.shutdown)
	for i := range 2 {
		var wrap func(syncd.SharedStore) syncd.Store
		if i == 1 {
			wrap = func(h syncd.SharedStore) syncd.Store { return hookedOutcomes{h, &hook} }
		}
		if err := c.add(i, syncd.Options{}, wrap); err != nil {
			t.Fatal(err)
		}
	}
	home, b := c.engines[0], c.engines[1]
	c.contend(t, 1, "d")
	// The client's watermark is in b's memory: its last edit was decided
	// here (its forward found nobody at the home).
	c.fwds[1].mode.Store(fwdNoResponders)
	mustCommit(t, b, "d", idem("c", "r0", `{"a":0}`))

	r1 := idem("c", "r1", `{"a":1}`)
	late := func() {
		// The home decides r1 after all (the forward arrived late), and
		// b follows the log to it.
		done := make(chan syncd.ForwardOutcome, 1)
		home.CommitForwarded(context.Background(), syncd.ForwardedEdit{Doc: "d", Edit: r1, From: "e1"}, func(out syncd.ForwardOutcome) { done <- out })
		if out := <-done; out.Op == nil {
			t.Errorf("the home did not apply r1: %+v", out.Err)
		}
		if _, err := b.State(context.Background(), "d"); err != nil {
			t.Error(err)
		}
	}
	hook.Store(&late)
	c.fwds[1].mode.Store(fwdDrop) // no answer in time, not delivered (the hook delivers it)
	op, err := b.Commit(ctxT(t), "d", r1)
	if err != nil {
		t.Fatalf("r1, applied by the home after its forward timed out: %v", err)
	}
	if b.Stats().ForwardsUnknown != 1 {
		t.Fatalf("fallbacks after a timeout: %d, want 1", b.Stats().ForwardsUnknown)
	}
	stored := requireConverged(t, c.engines, home.Store(), "d")
	if s := stored[op.Rev-1]; s.ClientReqID != "r1" {
		t.Fatalf("r1 answered at %d, which holds %q", op.Rev, s.ClientReqID)
	}
	n := 0
	for _, s := range stored {
		if s.ClientReqID == "r1" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("r1 stored %d times", n)
	}
}

// failOnce is a shared store whose next Commit, once armed, fails without
// writing anything (the stream had no leader), after running the hook:
// what happens elsewhere meanwhile.
type failOnce struct {
	syncd.SharedStore
	armed atomic.Bool
	hook  func()
}

func (s *failOnce) Commit(ctx context.Context, batch []syncd.Record) error {
	if s.armed.CompareAndSwap(true, false) {
		s.hook()
		return fmt.Errorf("injected, nothing written: %w", syncd.ErrUnavailable)
	}
	return s.SharedStore.Commit(ctx, batch)
}

// failingSecond opens two engines forwarding to engine 0, engine 1's
// store able to fail one commit (failOnce).
func failingSecond(t *testing.T) (*memCluster, *failOnce) {
	t.Helper()
	c := newMemCluster()
	t.Cleanup(c.shutdown)
	var failing *failOnce
	for i := range 2 {
		var wrap func(syncd.SharedStore) syncd.Store
		if i == 1 {
			wrap = func(h syncd.SharedStore) syncd.Store {
				failing = &failOnce{SharedStore: h}
				return failing
			}
		}
		if err := c.add(i, syncd.Options{}, wrap); err != nil {
			t.Fatal(err)
		}
	}
	return c, failing
}

// CI, issue 15's cluster test (SIGKILL of an instance): a forward had no
// answer in time, this engine decided the edit itself, and its write
// failed with nothing stored (the stream had no leader). The client was
// told UNAVAILABLE, "not applied", re-issued the edit under a new id, and
// it was applied twice: the home's write of the first id landed after all.
// An edit whose home may have decided it is decided again from the log
// instead, and answered with the home's decision.
func TestForwardUnknownOutcomeIsNeverNotApplied(t *testing.T) {
	c, failing := failingSecond(t)
	home, b := c.engines[0], c.engines[1]
	c.contend(t, 1, "d")

	r1 := idem("c", "r1", `{"a":1}`)
	failing.hook = func() {
		// The home's decision of r1, whose forward went unanswered,
		// lands while b's own write of it fails.
		done := make(chan syncd.ForwardOutcome, 1)
		home.CommitForwarded(context.Background(), syncd.ForwardedEdit{Doc: "d", Edit: r1, From: "e1"}, func(out syncd.ForwardOutcome) { done <- out })
		if out := <-done; out.Op == nil {
			t.Errorf("the home did not apply r1: %+v", out.Err)
		}
	}
	failing.armed.Store(true)
	c.fwds[1].mode.Store(fwdDrop) // no answer in time, not delivered (the hook delivers it)
	op, err := b.Commit(ctxT(t), "d", r1)
	if err != nil {
		t.Fatalf("r1, applied by the home while b's write of it failed: %v (want its revision)", err)
	}
	if b.Stats().ForwardsRedecided == 0 {
		t.Fatal("the failed fallback was not decided again")
	}
	stored := requireConverged(t, c.engines, home.Store(), "d")
	n := 0
	for _, s := range stored {
		if s.ClientReqID == "r1" {
			n++
			if s.Rev != op.Rev {
				t.Fatalf("r1 answered at %d, stored at %d", op.Rev, s.Rev)
			}
		}
	}
	if n != 1 {
		t.Fatalf("r1 stored %d times", n)
	}
}

// While an edit of unknown outcome waits to be decided again, the same
// client's next edit waits behind it: decided first, it would move the
// client's watermark past the earlier one, which would then be refused as
// a duplicate, lost through no fault of the client.
func TestForwardUnknownOutcomeKeepsClientOrder(t *testing.T) {
	c, failing := failingSecond(t)
	b := c.engines[1]
	c.contend(t, 1, "d")

	failed := make(chan struct{})
	failing.hook = func() { close(failed) }
	failing.armed.Store(true)
	c.fwds[1].mode.Store(fwdDrop) // r1's forward: no answer in time
	first := make(chan error, 1)
	var firstOp atomic.Pointer[syncd.Op]
	b.CommitAsync(ctxT(t), "d", idem("c", "r1", `{"a":1}`), func(op *syncd.Op, err error) {
		firstOp.Store(op)
		first <- err
	})
	<-failed // b's own write of r1 failed: r1 waits to be decided again
	c.fwds[1].mode.Store(fwdNoResponders)
	op2, err := b.Commit(ctxT(t), "d", idem("c", "r2", `{"a":2}`))
	if err != nil {
		t.Fatalf("r2: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("r1, sent before r2: %v (want it applied)", err)
	}
	if op1 := firstOp.Load(); op1 == nil || op1.Rev >= op2.Rev {
		t.Fatalf("r1 at %v, r2 at %d: want r1 first", op1, op2.Rev)
	}
	requireConverged(t, c.engines, c.engines[0].Store(), "d")
}
