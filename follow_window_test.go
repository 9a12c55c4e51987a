package syncd_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/memstore"
)

// hookedWatermark runs hook (once, when armed) inside a Watermark read:
// the join's watermark reads come after its freshen and before it starts
// the document's watch.
type hookedWatermark struct {
	*memstore.Handle
	armed atomic.Bool
	hook  func()
}

func (h *hookedWatermark) Watermark(ctx context.Context, doc, clientID string) (revision.Watermark, error) {
	if h.armed.CompareAndSwap(true, false) {
		h.hook()
	}
	return h.Handle.Watermark(ctx, doc, clientID)
}

// A commit by another writer that the store stores after a join's freshen
// read the head, and before the join started the document's watch, must
// still reach the new subscriber: the watch is the only thing that tells
// the engine of it, and nothing else commits afterwards.
func TestSharedCommitBetweenFreshenAndWatch(t *testing.T) {
	sh := memstore.NewShared(memstore.Options{})
	hb := &hookedWatermark{Handle: sh.Open()}
	engines := openOn(t, sh, []syncd.Store{sh.Open(), hb}, syncd.Options{})
	a, b := engines[0], engines[1]
	ctx := ctxT(t)
	mustCommit(t, a, "d", merge(`{"x":0}`))
	hb.hook = func() { mustCommit(t, a, "d", merge(`{"x":1}`)) }
	hb.armed.Store(true)
	rec := newRecorder()
	sub, err := b.Subscribe(ctx, "d", syncd.SubscribeRequest{ClientID: "c"}, rec.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if hb.armed.Load() {
		t.Fatal("the hook did not run")
	}
	deadline := time.Now().Add(3 * time.Second)
	for lastRev(rec.snapshot()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("B's subscriber is stuck at revision %d; A's commit 2 was acknowledged before Subscribe returned", lastRev(rec.snapshot()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A follow reads at most 64 pages; when other writers had stored more
// than that and then stopped, the rest must still reach the subscribers
// (here: a follow is held up while another writer commits 300 operations,
// with pages of 2).
func TestSharedFollowBeyondItsPages(t *testing.T) {
	a, _, slow, rec := followHeld(t, memstore.Options{}, syncd.Options{CatchUpPage: 2})
	for i := 2; i <= 300; i++ {
		mustCommit(t, a, "d", merge(fmt.Sprintf(`{"x":%d}`, i)))
	}
	time.Sleep(50 * time.Millisecond) // the watch's calls reach B
	close(slow.release)
	deadline := time.Now().Add(5 * time.Second)
	for lastRev(rec.snapshot()) < 301 {
		if time.Now().After(deadline) {
			t.Fatalf("B's subscriber is stuck at revision %d of 301", lastRev(rec.snapshot()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
