package syncd_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/memstore"
)

// lateContended is a shared handle whose armed commit loses its
// acknowledgement and lands late (as unknownOutcome's late mode: at the
// handle's next commit, after the writer read the log back), and which
// calls onLost before it answers, to change the world meanwhile.
type lateContended struct {
	*memstore.Handle
	armed     atomic.Bool
	onLost    func()
	lateBatch []syncd.Record
}

func (u *lateContended) Commit(ctx context.Context, batch []syncd.Record) error {
	if u.lateBatch != nil {
		held := u.lateBatch
		u.lateBatch = nil
		if err := u.Handle.Commit(ctx, held); err != nil {
			return err
		}
	}
	if !u.armed.CompareAndSwap(true, false) {
		return u.Handle.Commit(ctx, batch)
	}
	failed := map[string]error{}
	for _, r := range batch {
		if r.Append != nil {
			a, op := *r.Append, *r.Append.Op
			a.Op = &op
			r.Append = &a
			failed[r.Append.Doc] = fmt.Errorf("ack lost: %w", syncd.ErrOutcomeUnknown)
		}
		u.lateBatch = append(u.lateBatch, r)
	}
	u.onLost()
	return &syncd.PartialCommitError{Failed: failed}
}

// failingOnce is a shared handle whose armed commit fails, applying
// nothing, with an ordinary store error.
type failingOnce struct {
	*memstore.Handle
	armed atomic.Bool
}

func (f *failingOnce) Commit(ctx context.Context, batch []syncd.Record) error {
	if f.armed.CompareAndSwap(true, false) {
		return fmt.Errorf("injected: %w", syncd.ErrUnavailable)
	}
	return f.Handle.Commit(ctx, batch)
}

// An edit whose own write's outcome was unknown, and which the rebase
// then forwarded to the home (the document was contended meanwhile), is
// never answered UNAVAILABLE ("not applied", PROTOCOL.md §6.7), even
// when the home could not decide it: the first write may still land. A
// client told UNAVAILABLE re-issues the edit under a new id, and both
// would be applied.
func TestForwardedRedoOfUnknownWriteNotAnsweredUnavailable(t *testing.T) {
	c := newMemCluster()
	t.Cleanup(c.shutdown)
	var home *failingOnce
	if err := c.add(0, syncd.Options{}, func(h syncd.SharedStore) syncd.Store {
		home = &failingOnce{Handle: h.(*memstore.Handle)}
		return home
	}); err != nil {
		t.Fatal(err)
	}
	var late *lateContended
	if err := c.add(1, syncd.Options{}, func(h syncd.SharedStore) syncd.Store {
		late = &lateContended{Handle: h.(*memstore.Handle)}
		return late
	}); err != nil {
		t.Fatal(err)
	}
	a, b := c.engines[0], c.engines[1]
	ctx := ctxT(t)
	mustCommit(t, a, "d", merge(`{"init":1}`))
	if _, err := b.State(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	// b's write of r1 loses its acknowledgement (it lands later); while
	// it is out, another instance announces d contended, so b's rebase
	// forwards r1 to the home, whose own write of it fails.
	late.onLost = func() {
		b.Contended("d")
		home.armed.Store(true)
	}
	late.armed.Store(true)
	_, err := b.Commit(ctx, "d", idem("c", "r1", `{"x":1}`))
	// Whatever b answered, the write it lost lands with its next commit.
	mustCommit(t, b, "other", merge(`{"z":1}`))
	_, ops := storedLog(t, b.Store(), "d")
	applied := false
	for _, op := range ops {
		if op.ClientID == "c" && op.ClientReqID == "r1" {
			applied = true
		}
	}
	if code := syncd.CodeOf(err); applied && (code == syncd.CodeUnavailable || code == syncd.CodeClosed) {
		t.Fatalf("r1 answered %v (not applied), and the store holds it: %v", code, err)
	}
	if errors.Is(err, syncd.ErrOutcomeUnknown) {
		return // an honest "unknown" is allowed
	}
	if err == nil && !applied {
		t.Fatalf("r1 acknowledged, and the store does not hold it")
	}
}

// A client's edit forwarded to the home is decided before the same
// client's next edit, also when the forwarding engine's copy of the
// document breaks meanwhile (a write of another edit failed) and is
// loaded again: the copy loaded again must not decide the client's next
// edit while the earlier one is still forwarded, or the earlier one,
// reaching the home after it, is refused as a duplicate, lost through no
// fault of the client (docs/guarantees.md, "Exactly once and in order
// across forwarding").
func TestForwardInFlightKeepsOrderAcrossBrokenDocument(t *testing.T) {
	c := newMemCluster()
	t.Cleanup(c.shutdown)
	if err := c.add(0, syncd.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	var fail *failingOnce
	if err := c.add(1, syncd.Options{}, func(h syncd.SharedStore) syncd.Store {
		fail = &failingOnce{Handle: h.(*memstore.Handle)}
		return fail
	}); err != nil {
		t.Fatal(err)
	}
	b := c.engines[1]
	ctx := ctxT(t)
	c.contend(t, 1, "d")
	release := c.fwds[1].hold()
	first := make(chan error, 1)
	b.CommitAsync(ctx, "d", idem("c", "r1", `{"a":1}`), func(_ *syncd.Op, err error) { first <- err })
	// Another client's edit without ids is decided here, and its write
	// fails: b drops its copy of d.
	fail.armed.Store(true)
	_, err := b.Commit(ctx, "d", merge(`{"other":1}`))
	wantCode(t, err, syncd.CodeUnavailable)
	second := make(chan error, 1)
	go func() {
		_, err := b.Commit(ctx, "d", idem("c", "r2", `{"a":2}`))
		second <- err
	}()
	var err2 error
	answered := false
	select {
	case err2 = <-second:
		answered = true
		t.Errorf("r2 answered (%v) while r1, sent before it, was still forwarded", err2)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	err1 := <-first
	if !answered {
		err2 = <-second
	}
	if err1 != nil {
		t.Errorf("r1 (sent first, forwarded): %v", err1)
	}
	if err2 != nil {
		t.Errorf("r2: %v", err2)
	}
	_, ops := storedLog(t, b.Store(), "d")
	var order []string
	for _, op := range ops {
		if op.ClientID == "c" {
			order = append(order, op.ClientReqID)
		}
	}
	if fmt.Sprint(order) != "[r1 r2]" {
		t.Fatalf("client c's requests stored as %v, want [r1 r2]", order)
	}
}
