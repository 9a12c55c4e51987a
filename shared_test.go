package syncd_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/memstore"
)

// openShared starts n engines, each on its own handle of one shared
// memstore, and closes them all at the end of the test.
func openShared(t testing.TB, n int, opts syncd.Options) ([]*syncd.Engine, *memstore.Shared) {
	t.Helper()
	return openSharedWith(t, n, memstore.Options{}, opts)
}

func openSharedWith(t testing.TB, n int, mopts memstore.Options, opts syncd.Options) ([]*syncd.Engine, *memstore.Shared) {
	t.Helper()
	sh := memstore.NewShared(mopts)
	stores := make([]syncd.Store, n)
	for i := range stores {
		stores[i] = sh.Open()
	}
	return openOn(t, sh, stores, opts), sh
}

func openOn(t testing.TB, sh *memstore.Shared, stores []syncd.Store, opts syncd.Options) []*syncd.Engine {
	t.Helper()
	engines := make([]*syncd.Engine, len(stores))
	for i, st := range stores {
		e, err := syncd.Open(st, opts)
		if err != nil {
			t.Fatal(err)
		}
		engines[i] = e
	}
	t.Cleanup(func() {
		for i, e := range engines {
			e.Close()
			stores[i].Close()
		}
		sh.Close()
	})
	return engines
}

// fataler is what the shared tests' checks need of a *testing.T or a
// *rapid.T.
type fataler interface {
	Fatalf(format string, args ...any)
}

func helper(t fataler) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
}

// storedLog reads doc's whole log from the store, checking that its
// revisions are contiguous from 1 and that no client request appears
// twice.
func storedLog(t fataler, st syncd.Store, doc string) (revision.Epoch, []*syncd.Op) {
	helper(t)
	ctx := context.Background()
	sd, err := st.Load(ctx, doc)
	if err != nil {
		t.Fatalf("%v", err)
	}
	ops, err := st.ReadOps(ctx, doc, sd.Meta.Epoch, 0, int(sd.Meta.Head)+1)
	if err != nil {
		t.Fatalf("%v", err)
	}
	seen := map[[2]string]revision.Rev{}
	for i, op := range ops {
		if op.Rev != revision.Rev(i+1) {
			t.Fatalf("stored log: op %d has revision %d", i, op.Rev)
		}
		if op.ClientID == "" {
			continue
		}
		k := [2]string{op.ClientID, op.ClientReqID}
		if r, dup := seen[k]; dup {
			t.Fatalf("request %v stored twice: revisions %d and %d", k, r, op.Rev)
		}
		seen[k] = op.Rev
	}
	if revision.Rev(len(ops)) != sd.Meta.Head {
		t.Fatalf("stored log holds %d ops, head is %d", len(ops), sd.Meta.Head)
	}
	return sd.Meta.Epoch, ops
}

// replayOps applies ops to an empty document.
func replayOps(t fataler, ops []*syncd.Op) any {
	helper(t)
	var state any = map[string]any{}
	for _, op := range ops {
		if err := applyOp(op, &state); err != nil {
			t.Fatalf("op %d: %v", op.Rev, err)
		}
	}
	return state
}

// requireConverged checks that every engine's State of doc is the stored
// log replayed, at its head.
func requireConverged(t fataler, engines []*syncd.Engine, st syncd.Store, doc string) []*syncd.Op {
	helper(t)
	epoch, ops := storedLog(t, st, doc)
	want := replayOps(t, ops)
	for i, e := range engines {
		s, err := e.State(context.Background(), doc)
		if err != nil {
			t.Fatalf("engine %d: State: %v", i, err)
		}
		if s.Epoch != epoch || s.Rev != revision.Rev(len(ops)) {
			t.Fatalf("engine %d: State at %s@%d, store at %s@%d", i, s.Epoch, s.Rev, epoch, len(ops))
		}
		got, err := delta.Decode(s.State)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("engine %d: state %s (%v), store replays to %v", i, s.State, err, want)
		}
	}
	return ops
}

// Several engines write one document at once: every edit is applied
// exactly once, at contiguous revisions, each engine's answer names the
// revision the store holds it at, every engine converges, and a
// subscriber on each sees every operation in order, once.
//
// The "short" cases keep little in memory: a ring of 4 and a snapshot
// every 3 operations, so that engines read back documents whose newest
// snapshot is past what they had. (The store keeps every operation, for
// the checks.)
func TestSharedConcurrentWriters(t *testing.T) {
	for _, tc := range []struct {
		n     int
		short bool
	}{{2, false}, {3, false}, {2, true}, {3, true}} {
		n := tc.n
		t.Run(fmt.Sprintf("engines=%d/short=%v", n, tc.short), func(t *testing.T) {
			var mopts memstore.Options
			var opts syncd.Options
			if tc.short {
				mopts.Retention = -1
				opts.RingSize, opts.SnapshotInterval = 4, 3
			}
			engines, _ := openSharedWith(t, n, mopts, opts)
			st := engines[0].Store()
			const doc, writers, edits = "hot", 3, 25
			ctx := ctxT(t)
			mustCommit(t, engines[0], doc, merge(`{"start":true}`))
			recs := make([]*recorder, n)
			for i, e := range engines {
				recs[i] = newRecorder()
				sub, err := e.Subscribe(ctx, doc, syncd.SubscribeRequest{}, recs[i].sink)
				if err != nil {
					t.Fatal(err)
				}
				defer sub.Close()
			}
			var wg sync.WaitGroup
			acked := make([][]*syncd.Op, n*writers)
			for i := range n * writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e := engines[i%n]
					client := fmt.Sprintf("c%d", i)
					for k := range edits {
						ed := merge(fmt.Sprintf(`{"w%d":%d,"n%d_%d":1}`, i, k, i, k))
						ed.ClientID, ed.ReqID = client, fmt.Sprintf("r%d", k+1)
						op, err := e.Commit(ctx, doc, ed)
						if err != nil {
							t.Errorf("writer %d edit %d: %v", i, k, err)
							return
						}
						acked[i] = append(acked[i], op)
					}
				}()
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			ops := requireConverged(t, engines, st, doc)
			if want := 1 + n*writers*edits; len(ops) != want {
				t.Fatalf("store holds %d ops, want %d", len(ops), want)
			}
			for i, list := range acked {
				for _, op := range list {
					if s := ops[op.Rev-1]; s.ClientID != op.ClientID || s.ClientReqID != op.ClientReqID {
						t.Fatalf("writer %d: acknowledged %s/%s at %d, the store has %s/%s there", i, op.ClientID, op.ClientReqID, op.Rev, s.ClientID, s.ClientReqID)
					}
				}
			}
			head := ops[len(ops)-1].Rev
			for i, r := range recs {
				evs := r.waitFor(t, "every op", func(evs []*syncd.Event) bool {
					return len(evs) > 0 && lastRev(evs) >= head
				})
				rp := &replica{t: t}
				rp.apply(evs)
				if !reflect.DeepEqual(rp.state, replayOps(t, ops)) {
					t.Fatalf("subscriber on engine %d: state %s", i, encode(t, rp.state))
				}
			}
			var rebases uint64
			for _, e := range engines {
				rebases += e.Stats().Rebases
			}
			t.Logf("%d ops, %d rebases", len(ops), rebases)
		})
	}
}

// lastRev is the newest revision the events bring a subscriber to.
func lastRev(evs []*syncd.Event) revision.Rev {
	var r revision.Rev
	for _, ev := range evs {
		switch ev.Kind {
		case syncd.EventSnapshot:
			r = ev.Rev
		case syncd.EventDeltas:
			r = ev.ToRev
		}
	}
	return r
}

// A subscriber on B sees A's commits, live, in order, once.
func TestSharedSubscriberFollowsOtherWriter(t *testing.T) {
	engines, _ := openShared(t, 2, syncd.Options{})
	a, b := engines[0], engines[1]
	ctx := ctxT(t)
	mustCommit(t, a, "d", merge(`{"x":0}`))
	r := newRecorder()
	sub, err := b.Subscribe(ctx, "d", syncd.SubscribeRequest{}, r.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := 1; i <= 20; i++ {
		mustCommit(t, a, "d", merge(fmt.Sprintf(`{"x":%d}`, i)))
	}
	evs := r.waitFor(t, "A's commits on B", func(evs []*syncd.Event) bool { return lastRev(evs) >= 21 })
	rp := &replica{t: t}
	rp.apply(evs)
	if got := encode(t, rp.state); got != `{"x":20}` {
		t.Fatalf("B's subscriber has %s", got)
	}
	for _, ev := range evs[1:] {
		if ev.Kind == syncd.EventDeltas && !ev.Live {
			t.Fatalf("a follow was delivered as a catch-up: %+v", ev)
		}
	}
	if b.Stats().Follows == 0 {
		t.Fatal("B never followed A's commits")
	}
}

// A JOIN, State or ReadOps on B right after A acknowledged a commit sees
// it, although B had the document loaded, and nobody subscribed on B to
// make it follow.
func TestSharedReadsAreFresh(t *testing.T) {
	engines, _ := openShared(t, 2, syncd.Options{})
	a, b := engines[0], engines[1]
	ctx := ctxT(t)
	mustCommit(t, a, "d", merge(`{"x":0}`))
	first, err := b.State(ctx, "d") // loads it on B
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		op := mustCommit(t, a, "d", merge(fmt.Sprintf(`{"x":%d}`, i)))
		s, err := b.State(ctx, "d")
		if err != nil || s.Rev != op.Rev || string(s.State) != fmt.Sprintf(`{"x":%d}`, i) {
			t.Fatalf("State on B after A's commit at %d: %+v, %v", op.Rev, s, err)
		}
	}
	op := mustCommit(t, a, "d", merge(`{"y":1}`))
	r, err := b.ReadOps(ctx, "d", first.Rev, 100)
	if err != nil || r.Head != op.Rev || len(r.Ops) != int(op.Rev-first.Rev) {
		t.Fatalf("ReadOps on B: %+v, %v; want up to %d", r, err, op.Rev)
	}
	op = mustCommit(t, a, "d", merge(`{"z":1}`))
	rec := newRecorder()
	sub, err := b.Subscribe(ctx, "d", syncd.SubscribeRequest{Have: revision.Position{Epoch: first.Epoch, Rev: first.Rev}}, rec.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if got := lastRev(rec.snapshot()); got != op.Rev {
		t.Fatalf("JOIN on B caught up to %d, A acknowledged %d", got, op.Rev)
	}
}

// The same client request sent to A and then to B is applied once; B,
// whose cached watermark did not know A's decision, answers with A's
// operation.
func TestSharedSameRequestOnTwoEngines(t *testing.T) {
	engines, _ := openShared(t, 2, syncd.Options{})
	a, b := engines[0], engines[1]
	edit := func(req, patch string) syncd.Edit {
		ed := merge(patch)
		ed.ClientID, ed.ReqID = "c", req
		return ed
	}
	mustCommit(t, b, "d", edit("r01", `{"a":1}`)) // B caches c's watermark: r01
	opA := mustCommit(t, a, "d", edit("r02", `{"b":1}`))
	opB, err := b.Commit(ctxT(t), "d", edit("r02", `{"b":1}`))
	if err != nil {
		t.Fatalf("the resend on B: %v", err)
	}
	if opB.Rev != opA.Rev {
		t.Fatalf("B answered revision %d, A applied it at %d", opB.Rev, opA.Rev)
	}
	// Sent once more to B, it is a plain duplicate now.
	_, err = b.Commit(ctxT(t), "d", edit("r02", `{"b":1}`))
	wantCode(t, err, syncd.CodeDuplicate)
	ops := requireConverged(t, engines, b.Store(), "d")
	if len(ops) != 2 {
		t.Fatalf("store holds %d ops, want 2", len(ops))
	}
}

// An edit decided against a copy another writer's commit made stale is
// decided again, not failed: applied after the other writer's operation,
// or refused by the rebase check when it touches the same path.
func TestSharedConflictIsDecidedAgain(t *testing.T) {
	engines, _ := openShared(t, 2, syncd.Options{})
	a, b := engines[0], engines[1]
	ctx := ctxT(t)
	mustCommit(t, a, "d", merge(`{"a":0,"b":0}`))
	if _, err := b.State(ctx, "d"); err != nil { // B at revision 1
		t.Fatal(err)
	}
	mustCommit(t, a, "d", merge(`{"a":1}`)) // revision 2, unknown to B's copy
	op, err := b.Commit(ctx, "d", merge(`{"b":1}`))
	if err != nil || op.Rev != 3 {
		t.Fatalf("B's edit: %+v, %v; want it applied at 3", op, err)
	}
	mustCommit(t, a, "d", merge(`{"a":2}`)) // revision 4
	ed := merge(`{"a":3}`)
	ed.Base, ed.HasBase = 3, true
	_, err = b.Commit(ctx, "d", ed)
	wantCode(t, err, syncd.CodeConflict) // the rebase check saw A's revision 4
	requireConverged(t, engines, a.Store(), "d")
	if b.Stats().Rebases == 0 {
		t.Fatal("B never decided an edit again")
	}
}

// Two engines that create one new document at once agree on one epoch:
// the one whose creation conflicts takes the other's, and its edit is
// applied there.
func TestSharedCreateRace(t *testing.T) {
	engines, _ := openShared(t, 2, syncd.Options{})
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, e := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.Commit(ctx, "new", merge(fmt.Sprintf(`{"e%d":1}`, i)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("engine %d: %v", i, err)
		}
	}
	ops := requireConverged(t, engines, engines[0].Store(), "new")
	if len(ops) != 2 {
		t.Fatalf("store holds %d ops, want 2", len(ops))
	}
}

// A document deleted through one engine is gone for the other's readers,
// and a subscriber there moves to the new epoch.
func TestSharedDeleteSeenByOther(t *testing.T) {
	engines, _ := openShared(t, 2, syncd.Options{})
	a, b := engines[0], engines[1]
	ctx := ctxT(t)
	mustCommit(t, a, "d", merge(`{"x":1}`))
	if _, err := b.State(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	_, err := b.State(ctx, "d")
	wantCode(t, err, syncd.CodeNotFound)

	mustCommit(t, a, "e", merge(`{"x":1}`))
	rec := newRecorder()
	sub, err := b.Subscribe(ctx, "e", syncd.SubscribeRequest{}, rec.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	old := rec.snapshot()[0].Epoch
	if err := a.Delete(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, a, "e", merge(`{"y":2}`))
	evs := rec.waitFor(t, "the new epoch", func(evs []*syncd.Event) bool {
		last := evs[len(evs)-1]
		return last.Epoch != old && lastRev(evs) >= 1
	})
	rp := &replica{t: t}
	rp.apply(evs)
	if got := encode(t, rp.state); got != `{"y":2}` {
		t.Fatalf("B's subscriber has %s after the re-creation", got)
	}
}

// unknownOutcome is a shared handle whose next commits lose their
// acknowledgement: the records are applied (or, with drop, not) and the
// answer is an unknown outcome for every document of the batch.
type unknownOutcome struct {
	*memstore.Handle
	lose atomic.Int32 // commits left to lose
	drop bool
	// late holds a lost batch back until the next commit, as a write
	// that lands after the writer read the log back would.
	late      bool
	lateBatch []syncd.Record
}

func (u *unknownOutcome) Commit(ctx context.Context, batch []syncd.Record) error {
	if u.lateBatch != nil {
		held := u.lateBatch
		u.lateBatch = nil
		if err := u.Handle.Commit(ctx, held); err != nil {
			return err
		}
	}
	if u.lose.Add(-1) < 0 {
		return u.Handle.Commit(ctx, batch)
	}
	switch {
	case u.late:
		// A store keeps what the records say at the time of the call:
		// the engine reuses the batch and what it points to.
		for _, r := range batch {
			if r.Append != nil {
				a, op := *r.Append, *r.Append.Op
				a.Op = &op
				r.Append = &a
			}
			u.lateBatch = append(u.lateBatch, r)
		}
	case !u.drop:
		if err := u.Handle.Commit(ctx, batch); err != nil {
			return err
		}
	}
	failed := map[string]error{}
	for _, r := range batch {
		if r.Append != nil {
			failed[r.Append.Doc] = fmt.Errorf("ack lost: %w", syncd.ErrOutcomeUnknown)
		}
	}
	return &syncd.PartialCommitError{Failed: failed}
}

// A write whose outcome the store could not learn is never answered
// UNAVAILABLE: the engine reads the store back and answers what happened,
// applying the edit once, with client ids or without.
func TestSharedUnknownOutcomeIsResolved(t *testing.T) {
	for _, mode := range []string{"stored", "dropped", "stored late"} {
		t.Run(mode, func(t *testing.T) {
			sh := memstore.NewShared(memstore.Options{})
			u := &unknownOutcome{Handle: sh.Open(), drop: mode == "dropped", late: mode == "stored late"}
			// A clock that moves a millisecond a call, so that an
			// operation decided again gets another time unless the
			// engine keeps its first.
			var ms atomic.Int64
			ms.Store(time.Now().UnixMilli())
			now := func() time.Time { return time.UnixMilli(ms.Add(1)) }
			engines := openOn(t, sh, []syncd.Store{u}, syncd.Options{Now: now})
			e := engines[0]
			mustCommit(t, e, "d", merge(`{"x":0}`))
			u.lose.Store(1)
			ed := merge(`{"x":1}`)
			ed.ClientID, ed.ReqID = "c", "r1"
			op, err := e.Commit(ctxT(t), "d", ed)
			if err != nil || op.Rev != 2 {
				t.Fatalf("idempotent edit: %+v, %v", op, err)
			}
			u.lose.Store(1)
			op, err = e.Commit(ctxT(t), "d", merge(`{"y":1}`))
			if err != nil || op.Rev != 3 {
				t.Fatalf("edit without ids: %+v, %v", op, err)
			}
			ops := requireConverged(t, engines, u, "d")
			if len(ops) != 3 {
				t.Fatalf("store holds %d ops, want 3", len(ops))
			}
		})
	}
}

// A server's own refusal (a rate limit) of a request another engine has
// already applied is a duplicate, not a second decision.
func TestSharedRefuseOfRequestDecidedElsewhere(t *testing.T) {
	engines, _ := openShared(t, 2, syncd.Options{})
	a, b := engines[0], engines[1]
	edit := func(req string) syncd.Edit {
		ed := merge(`{"a":1}`)
		ed.ClientID, ed.ReqID = "c", req
		return ed
	}
	mustCommit(t, b, "d", edit("r1"))
	mustCommit(t, a, "d", edit("r2"))
	refuse := func(req string) error {
		done := make(chan error, 1)
		b.Refuse(ctxT(t), "d", "c", req, func(_ revision.Rev, err error) { done <- err })
		return <-done
	}
	wantCode(t, refuse("r2"), syncd.CodeDuplicate)
	if err := refuse("r3"); err != nil {
		t.Fatalf("a refusal of a new request: %v", err)
	}
	outs, err := b.Store().Outcomes(ctxT(t), "d", "c")
	if err != nil || len(outs) != 3 || outs[2].Committed() || outs[1].Rev != 2 {
		t.Fatalf("outcomes %+v, %v; want r1, r2 committed, r3 refused", outs, err)
	}
	requireConverged(t, engines, b.Store(), "d")
}

// gatedStore holds its first commit until the gate opens, so that a test
// can queue several records behind it, and fails the commit after it with
// a conflict for every document, once, without applying it.
type gatedStore struct {
	*memstore.Handle
	entered  chan struct{}
	gate     chan struct{}
	calls    atomic.Int32
	conflict atomic.Int32 // which call conflicts (1-based)
}

func (g *gatedStore) Commit(ctx context.Context, batch []syncd.Record) error {
	n := g.calls.Add(1)
	if n == 1 {
		close(g.entered)
		<-g.gate
	}
	if n == g.conflict.Load() {
		failed := map[string]error{}
		for _, r := range batch {
			if r.Append != nil {
				failed[r.Append.Doc] = fmt.Errorf("injected: %w", syncd.ErrConflict)
			}
		}
		return &syncd.PartialCommitError{Failed: failed}
	}
	return g.Handle.Commit(ctx, batch)
}

// Edits and a deletion undone together by a conflict are decided again in
// the order they were made: the edit before the deletion is applied (and
// then deleted with the document), the one after it applies to the new,
// empty document.
func TestSharedRedoKeepsOrderAroundDelete(t *testing.T) {
	sh := memstore.NewShared(memstore.Options{})
	g := &gatedStore{Handle: sh.Open(), entered: make(chan struct{}), gate: make(chan struct{})}
	g.conflict.Store(2)
	engines := openOn(t, sh, []syncd.Store{g}, syncd.Options{})
	e := engines[0]
	ctx := ctxT(t)
	type result struct {
		op  *syncd.Op
		err error
	}
	first := make(chan result, 1)
	e.CommitAsync(ctx, "d", merge(`{"a":1}`), func(op *syncd.Op, err error) { first <- result{op, err} })
	<-g.entered // the creation and the first edit are in the store's hands
	before := make(chan result, 1)
	e.CommitAsync(ctx, "d", merge(`{"b":1}`), func(op *syncd.Op, err error) { before <- result{op, err} })
	deleted := make(chan error, 1)
	go func() { deleted <- e.Delete(ctx, "d") }()
	// The deletion is queued once the document is absent in memory.
	for {
		if _, ok := e.Head("d"); !ok {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the deletion was never queued")
		}
		time.Sleep(time.Millisecond)
	}
	after := make(chan result, 1)
	e.CommitAsync(ctx, "d", merge(`{"c":1}`), func(op *syncd.Op, err error) { after <- result{op, err} })
	close(g.gate)
	for name, ch := range map[string]chan result{"first": first, "before": before, "after": after} {
		if r := <-ch; r.err != nil {
			t.Fatalf("%s edit: %v", name, r.err)
		}
	}
	if err := <-deleted; err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if e.Stats().Rebases == 0 {
		t.Fatal("no rebase happened: the test did not test anything")
	}
	ops := requireConverged(t, engines, g, "d")
	if len(ops) != 1 || string(ops[0].Payload) != `{"c":1}` {
		t.Fatalf("the document after the deletion holds %d ops (%s), want only the edit made after it", len(ops), ops[0].Payload)
	}
}

// unreadable is a shared handle whose writes lose their acknowledgement
// and whose log cannot be read back.
type unreadable struct {
	unknownOutcome
	broken atomic.Bool
}

func (u *unreadable) Load(ctx context.Context, doc string) (*syncd.StoredDoc, error) {
	if u.broken.Load() {
		return nil, fmt.Errorf("injected: %w", syncd.ErrUnavailable)
	}
	return u.unknownOutcome.Load(ctx, doc)
}

// An edit whose outcome cannot be learnt before the engine closes is not
// answered "not applied": its error wraps ErrOutcomeUnknown, and its code
// is not one the wire reads as "not applied".
func TestSharedUnknownOutcomeAtClose(t *testing.T) {
	sh := memstore.NewShared(memstore.Options{})
	u := &unreadable{unknownOutcome: unknownOutcome{Handle: sh.Open()}}
	e, err := syncd.Open(u, syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		u.Close()
		sh.Close()
	}()
	mustCommit(t, e, "d", merge(`{"x":0}`))
	u.broken.Store(true)
	u.lose.Store(1)
	done := make(chan error, 1)
	e.CommitAsync(ctxT(t), "d", merge(`{"x":1}`), func(_ *syncd.Op, err error) { done <- err })
	for deadline := time.Now().Add(10 * time.Second); e.Stats().Rebases == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the lost write was never decided again")
		}
	}
	// The committer is now retrying the read, until the engine closes.
	e.Close()
	err = <-done
	if !errors.Is(err, syncd.ErrOutcomeUnknown) {
		t.Fatalf("got %v, want an error wrapping ErrOutcomeUnknown", err)
	}
	if c := syncd.CodeOf(err); c == syncd.CodeUnavailable || c == syncd.CodeClosed {
		t.Fatalf("answered %v: the client would apply it again", c)
	}
}

// A client that moves from A to B with a revision B's copy has not
// reached yet resumes with deltas, not a gap: B catches up first.
func TestSharedJoinFromAheadOfStaleCopy(t *testing.T) {
	engines, _ := openShared(t, 2, syncd.Options{})
	a, b := engines[0], engines[1]
	ctx := ctxT(t)
	// A document larger than the operations, so that deltas are the
	// smaller answer.
	mustCommit(t, a, "d", merge(fmt.Sprintf(`{"x":0,"pad":"%0200d"}`, 0)))
	if _, err := b.State(ctx, "d"); err != nil { // B's copy at 1
		t.Fatal(err)
	}
	var seen *syncd.Op
	for i := 1; i <= 3; i++ {
		seen = mustCommit(t, a, "d", merge(fmt.Sprintf(`{"x":%d}`, i)))
	}
	last := mustCommit(t, a, "d", merge(`{"y":1}`))
	epoch, _ := a.Head("d")
	rec := newRecorder()
	sub, err := b.Subscribe(ctx, "d", syncd.SubscribeRequest{Have: revision.Position{Epoch: epoch.Epoch, Rev: seen.Rev}}, rec.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	evs := rec.snapshot()
	if evs[0].Kind != syncd.EventDeltas || evs[0].FromRev != seen.Rev || lastRev(evs) != last.Rev {
		t.Fatalf("JOIN on B from %d: first event %+v (gap %+v), up to %d; want deltas %d..%d", seen.Rev, evs[0], evs[0].Gap, lastRev(evs), seen.Rev, last.Rev)
	}
}

// slowReads holds ReadOps until released, once armed.
type slowReads struct {
	*memstore.Handle
	armed   atomic.Bool
	blocked chan struct{}
	release chan struct{}
}

// Watch tells only that something changed, never what: the follow must
// read (ReadOps) to catch up, which is what this store holds back.
func (s *slowReads) Watch(doc string, changed func(syncd.StoredChange)) (stop func()) {
	return s.Handle.Watch(doc, func(syncd.StoredChange) { changed(syncd.StoredChange{}) })
}

func (s *slowReads) ReadOps(ctx context.Context, doc string, epoch revision.Epoch, after revision.Rev, limit int) ([]*syncd.Op, error) {
	if s.armed.CompareAndSwap(true, false) {
		close(s.blocked)
		<-s.release
	}
	return s.Handle.ReadOps(ctx, doc, epoch, after, limit)
}

// An engine that falls so far behind that the operations it would follow
// were trimmed reloads the document and resyncs its subscribers, which
// rejoin and converge; nothing it delivered was wrong.
func TestSharedFollowPastRetention(t *testing.T) {
	a, b, slow, rec := followHeld(t, memstore.Options{Retention: 4}, syncd.Options{SnapshotInterval: 2})
	ctx := ctxT(t)
	for i := 2; i <= 40; i++ {
		mustCommit(t, a, "d", merge(fmt.Sprintf(`{"x":%d}`, i)))
	}
	close(slow.release)
	evs := rec.waitFor(t, "the resync", func(evs []*syncd.Event) bool {
		return evs[len(evs)-1].Kind == syncd.EventResync || lastRev(evs) == 41
	})
	rp := &replica{t: t}
	rp.apply(evs)
	if evs[len(evs)-1].Kind == syncd.EventResync {
		// Rejoin from where the subscriber is, as a client would.
		rec2 := newRecorder()
		sub2, err := b.Subscribe(ctx, "d", syncd.SubscribeRequest{Have: revision.Position{Epoch: rp.epoch, Rev: rp.rev}}, rec2.sink)
		if err != nil {
			t.Fatal(err)
		}
		defer sub2.Close()
		rp.apply(rec2.snapshot())
	}
	t.Logf("resynced: %v; B rebases %d, follows %d", evs[len(evs)-1].Kind == syncd.EventResync, b.Stats().Rebases, b.Stats().Follows)
	if rp.rev != 41 || encode(t, rp.state) != `{"x":40}` {
		t.Fatalf("B's subscriber ends at %d with %s", rp.rev, encode(t, rp.state))
	}
	s, err := b.State(ctx, "d")
	if err != nil || s.Rev != 41 || string(s.State) != `{"x":40}` {
		t.Fatalf("State on B: %+v, %v", s, err)
	}
}

// Many clients on three engines JOIN a new document at once (the first
// use of a document behind a load balancer): every join succeeds, and the
// engines agree on one epoch.
func TestSharedJoinCreateStorm(t *testing.T) {
	engines, _ := openShared(t, 3, syncd.Options{})
	ctx := ctxT(t)
	const perEngine = 10
	var wg sync.WaitGroup
	errs := make([]error, len(engines)*perEngine)
	epochs := make([]revision.Epoch, len(errs))
	for i := range errs {
		e := engines[i%len(engines)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mu sync.Mutex
			sub, err := e.Subscribe(ctx, "storm", syncd.SubscribeRequest{ClientID: fmt.Sprintf("c%d", i)}, func(ev *syncd.Event) {
				mu.Lock()
				defer mu.Unlock()
				if ev.Epoch != "" && epochs[i] == "" {
					epochs[i] = ev.Epoch
				}
			})
			errs[i] = err
			if err == nil {
				sub.Close()
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
	}
	for i := range epochs {
		if epochs[i] != epochs[0] {
			t.Fatalf("join %d saw epoch %s, join 0 %s", i, epochs[i], epochs[0])
		}
	}
}

// followHeld opens engines A and B on one shared log, B's reads of it
// through slowReads, commits {"x":0} and {"x":1} through A, and returns
// once B's follow of the second is blocked in a read (until
// close(slow.release)), B's subscriber recording what it gets.
func followHeld(t *testing.T, storeOpts memstore.Options, opts syncd.Options) (a, b *syncd.Engine, slow *slowReads, rec *recorder) {
	t.Helper()
	sh := memstore.NewShared(storeOpts)
	slow = &slowReads{Handle: sh.Open(), blocked: make(chan struct{}), release: make(chan struct{})}
	engines := openOn(t, sh, []syncd.Store{sh.Open(), slow}, opts)
	a, b = engines[0], engines[1]
	mustCommit(t, a, "d", merge(`{"x":0}`))
	rec = newRecorder()
	sub, err := b.Subscribe(ctxT(t), "d", syncd.SubscribeRequest{}, rec.sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	slow.armed.Store(true)
	mustCommit(t, a, "d", merge(`{"x":1}`))
	<-slow.blocked // B's follow is reading
	return a, b, slow, rec
}
