package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// testConcurrentReaders commits while readers call every read method, and
// checks that each read sees one consistent state and that nothing moves
// backwards. Under the race detector it also checks the store's locking.
func testConcurrentReaders(t *testing.T, open Opener) {
	const retention = 16
	h := newHarness(t, open, Options{Retention: retention})
	h.batch().create("doc").create("other").mustCommit()
	epoch := h.epochOf("doc")

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	var reads atomic.Int64
	for r := range 4 {
		wg.Go(func() {
			if err := readLoop(ctx, h.s, epoch, r, &reads); err != nil {
				t.Errorf("reader %d: %v", r, err)
				stop()
			}
		})
	}
	// At least 300 commits, and more (boundedly) until the readers have
	// read: a store whose commits are much faster than its reads (one
	// that acknowledges from a log, and makes reads wait for what the log
	// holds) could otherwise finish before any reader does.
	//
	// A shared store's commit is a round trip to a replicated log that
	// syncs each write, and the readers' requests queue with it: 100
	// commits interleave with them as well as 300 do in a local store, in
	// a third of the time.
	commits := 300
	if h.shared {
		commits = 100
	}
	for i := 0; (i < commits || reads.Load() == 0 && i < 100_000) && ctx.Err() == nil; i++ {
		b := h.batch().mergeN("doc", 1+i%3)
		if i%10 == 0 {
			b.snapshot("doc")
		}
		if i%7 == 0 {
			b.decide("doc", "c1", fmt.Sprintf("r-%d", i))
		}
		b.mergeN("other", 1).mustCommit()
	}
	stop()
	wg.Wait()
	if reads.Load() == 0 {
		t.Error("the readers read nothing")
	}
}

// readLoop reads until ctx is done. Each reader keeps what it saw last,
// which a later read may not contradict.
func readLoop(ctx context.Context, s syncd.Store, epoch revision.Epoch, seed int, reads *atomic.Int64) error {
	var lastHead revision.Rev
	var lastMark string
	for i := seed; ctx.Err() == nil; i++ {
		sd, err := s.Load(ctx, "doc")
		if err != nil {
			return ctxOr(ctx, fmt.Errorf("Load: %w", err))
		}
		if sd.Meta.Head < lastHead {
			return fmt.Errorf("head went back from %d to %d", lastHead, sd.Meta.Head)
		}
		lastHead = sd.Meta.Head
		if sd.Meta.First > sd.SnapshotRev+1 {
			return fmt.Errorf("Load: log starts at %d, after the snapshot at %d", sd.Meta.First, sd.SnapshotRev)
		}
		if err := contiguous(sd.Tail, sd.SnapshotRev, sd.Meta.Head); err != nil {
			return fmt.Errorf("Load's tail: %w", err)
		}
		// Somewhere in the log as Load saw it; a commit may trim it by
		// now, which is ErrGone, never a wrong answer.
		after := sd.Meta.First - 1 + revision.Rev(i)%(sd.Meta.Head-sd.Meta.First+2)
		ops, err := s.ReadOps(ctx, "doc", epoch, after, 10)
		switch {
		case errors.Is(err, syncd.ErrGone):
		case err != nil:
			return ctxOr(ctx, fmt.Errorf("ReadOps(after %d): %w", after, err))
		case len(ops) > 10:
			return fmt.Errorf("ReadOps(limit 10) returned %d", len(ops))
		case len(ops) == 0 && after < sd.Meta.Head:
			return fmt.Errorf("ReadOps(after %d) empty below the head %d", after, sd.Meta.Head)
		default:
			for j, op := range ops {
				if op.Rev != after+1+revision.Rev(j) {
					return fmt.Errorf("ReadOps(after %d) returned %v", after, revs(ops))
				}
			}
		}
		metas, err := s.List(ctx, "", 10)
		if err != nil || len(metas) != 2 || metas[0].Doc != "doc" || metas[1].Doc != "other" {
			return ctxOr(ctx, fmt.Errorf("List: %v, %v", metas, err))
		}
		w, err := s.Watermark(ctx, "doc", "c1")
		if err != nil {
			return ctxOr(ctx, fmt.Errorf("Watermark: %w", err))
		}
		if revision.CompareReqID(w.ReqID, lastMark) < 0 {
			return fmt.Errorf("watermark went back from %q to %q", lastMark, w.ReqID)
		}
		lastMark = w.ReqID
		reads.Add(1)
	}
	return nil
}

// ctxOr returns nil if ctx is done (a read cut short by the end of the
// test is not a failure), err otherwise.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// testRandomBatches commits random batches, valid and not, on a few
// documents, and checks after each that the store agrees with the model on
// whether the batch succeeded, and at the end that it holds what the model
// holds. rapid prints the seed of a failing run and shrinks it.
func testRandomBatches(t *testing.T, open Opener) {
	rapid.Check(t, func(rt *rapid.T) {
		h := &harness{t: rt, ctx: context.Background(), model: newModel(), clock: 1_700_000_000_000}
		h.use(open(t, Options{}))
		defer func() {
			if err := h.s.Close(); err != nil {
				rt.Errorf("Close: %v", err)
			}
		}()
		for range rapid.IntRange(1, 25).Draw(rt, "batches") {
			b := h.batch()
			for range rapid.IntRange(0, 6).Draw(rt, "records") {
				randomRecord(rt, b)
			}
			_ = b.commit()
		}
		ctx := context.Background()
		states, err := checkAll(ctx, h.s)
		if err != nil {
			rt.Fatalf("invariants: %v", err)
		}
		if err := compareModel(ctx, h.s, h.model, states); err != nil {
			rt.Fatalf("model: %v", err)
		}
	})
}

// randomRecord adds one record to b: mostly valid, sometimes a conflict.
func randomRecord(rt *rapid.T, b *batch) {
	doc := testDocName(rapid.IntRange(0, 2).Draw(rt, "doc"))
	d := b.m.docs[doc]
	switch rapid.IntRange(0, 9).Draw(rt, "kind") {
	case 0:
		b.create(doc)
	case 1, 2, 3:
		if d == nil {
			b.create(doc)
		}
		client := rapid.SampledFrom([]string{"", "c1", "c2"}).Draw(rt, "client")
		req := ""
		if rapid.Bool().Draw(rt, "req") {
			// Often at or below the client's watermark: a shared store
			// refuses that as a conflict (model.shared), a single-writer
			// store takes it.
			req = fmt.Sprintf("r-%d", rapid.IntRange(0, 40).Draw(rt, "reqN"))
		}
		b.op(doc, syncd.OpMerge, fmt.Sprintf(`{"k%d":%d}`, rapid.IntRange(0, 4).Draw(rt, "key"), rapid.IntRange(-5, 5).Draw(rt, "val")), client, req)
	case 4:
		// A wrong revision or epoch.
		rev := b.next(doc) + revision.Rev(rapid.SampledFrom([]int{-1, 1, 2}).Draw(rt, "off"))
		epoch := b.epoch(doc)
		if rapid.Bool().Draw(rt, "wrongEpoch") {
			epoch = b.h.newEpoch()
		}
		b.add(appendAt(b.h, doc, epoch, rev))
	case 5:
		b.decide(doc, rapid.SampledFrom([]string{"c1", "c2"}).Draw(rt, "client"), fmt.Sprintf("r-%d", rapid.IntRange(0, 40).Draw(rt, "reqN")))
	case 6, 7:
		if d == nil {
			b.create(doc)
			if d = b.m.docs[doc]; d == nil {
				return // the batch already failed; the model stopped
			}
		}
		// At the head, or at an earlier revision with its true state.
		rev := revision.Rev(rapid.IntRange(0, int(d.head())).Draw(rt, "snapRev"))
		b.add(syncd.Record{Snapshot: &syncd.SnapshotRecord{Doc: doc, Epoch: d.epoch, Rev: rev, State: stateAt(rt, d, rev)}})
	case 8:
		b.delete(doc)
	case 9:
		b.mergeN(doc, rapid.IntRange(1, 5).Draw(rt, "n"))
	}
}

// stateAt replays d's ops up to rev and encodes the result.
func stateAt(t tb, d *modelDoc, rev revision.Rev) []byte {
	t.Helper()
	st, err := replay(nil, d.ops[:rev])
	if err != nil {
		t.Fatalf("storetest bug: replaying the model: %v", err)
	}
	return (&modelDoc{state: st}).stateJSON()
}

// testDocName is for the random tests: a small set of ids so that records
// collide.
func testDocName(i int) string { return fmt.Sprintf("doc-%d", i) }
