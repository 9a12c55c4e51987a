package syncd_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/memstore"
)

// The counters of a rebase after a conflict: one rebase (of cause
// conflict), the one edit decided again, and the other writer's operation
// it brought in.
func TestSharedStatsConflictRebase(t *testing.T) {
	engines, _ := openShared(t, 2, syncd.Options{})
	a, b := engines[0], engines[1]
	ctx := ctxT(t)
	mustCommit(t, a, "d", merge(`{"a":0,"b":0}`))
	if _, err := b.State(ctx, "d"); err != nil { // B at revision 1
		t.Fatal(err)
	}
	before := b.Stats()
	if before.Rebases != 0 || before.Redecided != 0 || before.RebaseOps != 0 {
		t.Fatalf("counters before any conflict: %+v", before)
	}
	mustCommit(t, a, "d", merge(`{"a":1}`)) // revision 2, unknown to B's copy
	if op := mustCommit(t, b, "d", merge(`{"b":1}`)); op.Rev != 3 {
		t.Fatalf("B's edit applied at %d, want 3", op.Rev)
	}
	s := b.Stats()
	if s.Rebases != 1 || s.RebasesUnknown != 0 || s.Redecided != 1 || s.RebaseOps != 1 {
		t.Fatalf("after one conflict: rebases %d (unknown %d), redecided %d, rebase ops %d; want 1, 0, 1, 1",
			s.Rebases, s.RebasesUnknown, s.Redecided, s.RebaseOps)
	}
	if s := a.Stats(); s.Rebases != 0 || s.Redecided != 0 {
		t.Fatalf("A, which never conflicted, counts rebases %d, redecided %d", s.Rebases, s.Redecided)
	}
}

// A rebase begun because a write's outcome was unknown counts as such.
func TestSharedStatsUnknownRebase(t *testing.T) {
	sh := memstore.NewShared(memstore.Options{})
	u := &unknownOutcome{Handle: sh.Open()}
	e := openOn(t, sh, []syncd.Store{u}, syncd.Options{})[0]
	mustCommit(t, e, "d", merge(`{"x":0}`))
	u.lose.Store(1)
	mustCommit(t, e, "d", merge(`{"x":1}`))
	s := e.Stats()
	if s.Rebases != 1 || s.RebasesUnknown != 1 || s.Redecided != 1 {
		t.Fatalf("after one lost acknowledgement: rebases %d (unknown %d), redecided %d; want 1, 1, 1", s.Rebases, s.RebasesUnknown, s.Redecided)
	}
}

// Follows count the operations they bring in, how far behind the document
// was (FollowLag sums to the operations), and, per operation, the time
// from its writer's decision to here: B's clock is 250 ms ahead of A's.
func TestSharedStatsFollow(t *testing.T) {
	t0 := time.Now()
	clockA := func() time.Time { return t0 }
	clockB := func() time.Time { return t0.Add(250 * time.Millisecond) }
	sh := memstore.NewShared(memstore.Options{})
	a := openOn(t, sh, []syncd.Store{sh.Open()}, syncd.Options{Now: clockA})[0]
	b := openOn(t, sh, []syncd.Store{sh.Open()}, syncd.Options{Now: clockB})[0]
	mustCommit(t, a, "d", merge(`{"x":0}`))
	r := newRecorder()
	sub, err := b.Subscribe(ctxT(t), "d", syncd.SubscribeRequest{}, r.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	const n = 20
	for i := 1; i <= n; i++ {
		mustCommit(t, a, "d", merge(fmt.Sprintf(`{"x":%d}`, i)))
	}
	r.waitFor(t, "A's commits on B", func(evs []*syncd.Event) bool { return lastRev(evs) >= n+1 })
	s := b.Stats()
	if s.Follows == 0 || s.FollowOps != n {
		t.Fatalf("follows %d brought %d operations, want %d", s.Follows, s.FollowOps, n)
	}
	if s.FollowLag.Count != s.Follows || s.FollowLag.Sum != n {
		t.Fatalf("follow lag: %d observations summing to %v; want %d summing to %d", s.FollowLag.Count, s.FollowLag.Sum, s.Follows, n)
	}
	d := s.FollowDelay
	if d.Count != n || math.Abs(d.Sum-n*0.25) > 1e-9 {
		t.Fatalf("follow delay: %d observations summing to %v; want %d of 0.25 s", d.Count, d.Sum, n)
	}
	for i, c := range d.Counts {
		inBucket := i < len(d.Bounds) && 0.25 <= d.Bounds[i] && (i == 0 || 0.25 > d.Bounds[i-1])
		if inBucket != (c == n) || !inBucket && c != 0 {
			t.Fatalf("follow delay bucket %d (bounds %v) counts %d", i, d.Bounds, c)
		}
	}
	if s := a.Stats(); s.Follows != 0 || s.FollowOps != 0 || s.FollowLag.Count != 0 {
		t.Fatalf("A, the only writer, followed: %d follows, %d operations", s.Follows, s.FollowOps)
	}
}

// An engine on a store of one writer counts nothing of the cluster's.
func TestStatsSingleWriterCountsNoClusterWork(t *testing.T) {
	e, err := syncd.Open(memstore.New(memstore.Options{}), syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := range 5 {
		mustCommit(t, e, "d", merge(fmt.Sprintf(`{"x":%d}`, i)))
	}
	s := e.Stats()
	if s.Rebases+s.Follows+s.Redecided+s.FollowOps+s.RebaseOps+s.FollowLag.Count+s.FollowDelay.Count != 0 {
		t.Fatalf("cluster counters moved on one writer: %+v", s)
	}
	if len(s.FollowLag.Counts) != len(s.FollowLag.Bounds)+1 {
		t.Fatalf("follow lag has %d counts for %d bounds", len(s.FollowLag.Counts), len(s.FollowLag.Bounds))
	}
}
