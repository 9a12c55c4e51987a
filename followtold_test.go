package syncd_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/memstore"
)

// countedReads counts ReadOps.
type countedReads struct {
	*memstore.Handle
	reads atomic.Int64
}

func (c *countedReads) ReadOps(ctx context.Context, doc string, epoch revision.Epoch, after revision.Rev, limit int) ([]*syncd.Op, error) {
	c.reads.Add(1)
	return c.Handle.ReadOps(ctx, doc, epoch, after, limit)
}

// A follow applies what the watch told instead of reading it back: once
// B follows a document, neither A's commits (delivered to B's subscriber
// in order) nor B's own cost B a read of the log.
func TestSharedFollowFromWatchReadsNothing(t *testing.T) {
	sh := memstore.NewShared(memstore.Options{})
	counted := &countedReads{Handle: sh.Open()}
	engines := openOn(t, sh, []syncd.Store{sh.Open(), counted}, syncd.Options{})
	a, b := engines[0], engines[1]
	mustCommit(t, a, "d", merge(`{"x":0}`))
	r := newRecorder()
	sub, err := b.Subscribe(ctxT(t), "d", syncd.SubscribeRequest{}, r.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	before := counted.reads.Load()
	const n = 20
	for i := 1; i <= n; i++ {
		mustCommit(t, a, "d", merge(fmt.Sprintf(`{"a%d":%d}`, i, i)))
	}
	r.waitFor(t, "A's commits on B", func(evs []*syncd.Event) bool { return lastRev(evs) >= n+1 })
	for i := 1; i <= 5; i++ {
		mustCommit(t, b, "d", merge(fmt.Sprintf(`{"b%d":%d}`, i, i)))
	}
	mustCommit(t, a, "d", merge(`{"last":true}`))
	evs := r.waitFor(t, "the last commit on B", func(evs []*syncd.Event) bool { return lastRev(evs) >= n+7 })
	rp := &replica{t: t}
	rp.apply(evs)
	if rp.rev != n+7 {
		t.Fatalf("B's subscriber is at %d, want %d", rp.rev, n+7)
	}
	if got := counted.reads.Load() - before; got != 0 {
		t.Fatalf("B read the log %d times while following, want 0", got)
	}
	if s := b.Stats(); s.FollowOps != n+1 {
		t.Fatalf("B followed %d operations, want %d (A's)", s.FollowOps, n+1)
	}
}
