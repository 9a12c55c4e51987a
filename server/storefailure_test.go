package server_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// A store that fails: nothing that was not durable is acknowledged or
// delivered, the writer is told UNAVAILABLE (and may resend the same id),
// and subscribers are resynced, so they stay consistent.

// flakyStore fails every Commit while failing is set.
type flakyStore struct {
	*memstore.Store
	failing atomic.Bool
}

func (s *flakyStore) Commit(ctx context.Context, batch []syncd.Record) error {
	if s.failing.Load() {
		return fmt.Errorf("disk on fire: %w", syncd.ErrUnavailable)
	}
	return s.Store.Commit(ctx, batch)
}

func TestStoreFailureResyncsSubscribers(t *testing.T) {
	st := &flakyStore{Store: memstore.New(memstore.Options{})}
	ev := newEnvStore(t, st, syncd.Options{}, server.Options{APIKey: apiKey})
	const doc = "flaky/doc"
	ev.pad(doc, 8<<10)
	a := ev.dial("")
	snap := a.join(doc)
	b := ev.dial("")
	b.join(doc)
	op1 := b.edit(doc, map[string]any{"n": 1})
	a.ackFrom(b.id, op1.ClientReqID)

	// The store fails: the edit is refused UNAVAILABLE, not applied, and
	// nobody sees it.
	st.failing.Store(true)
	id := b.nextReq()
	b.update(doc, map[string]any{"n": 2, "lost": true}, id)
	p := b.expectError(protocol.CodeUnavailable)
	updateDetails(t, p, doc, id)
	if p.Retryable == nil || !*p.Retryable {
		t.Fatalf("UNAVAILABLE not retryable: %+v", p)
	}
	// The HTTP API says 503 for the same reason.
	if p := apiError(t, ev.api("POST", "/v1/docs/flaky%2Fdoc/edits", map[string]any{"patch": map[string]any{"http": true}}, 503)); p.Code != protocol.CodeUnavailable {
		t.Fatalf("HTTP edit during the failure: %+v", p)
	}
	st.failing.Store(false)

	// UNAVAILABLE decided nothing: the same id is resent and applied.
	b.update(doc, map[string]any{"n": 2}, id)
	op2, _ := b.ack(id)
	if op2.Rev != op1.Rev+1 {
		t.Fatalf("resent edit at %d, want %d", op2.Rev, op1.Rev+1)
	}
	// A was resynced from where it was: it gets the operation once, in
	// order, and never the failed one.
	got, _ := a.ackFrom(b.id, id)
	if got.Rev != op2.Rev || string(got.Payload) != `{"n":2}` {
		t.Fatalf("A got %+v", got)
	}
	op3 := b.edit(doc, map[string]any{"n": 3})
	a.ackFrom(b.id, op3.ClientReqID)
	a.quiet()
	if st := ev.state(doc); st["lost"] != nil || st["n"].(float64) != 3 {
		t.Fatalf("state %v", st)
	}
	// A's view, rebuilt from scratch, matches.
	a2 := ev.dial("")
	ans := a2.joinAt(doc, revision.Position{Epoch: snap.Epoch, Rev: snap.Rev})
	if ans.deltas == nil || len(ans.deltas.Operations) != 3 {
		t.Fatalf("catch-up %+v %+v", ans.gap, ans.deltas)
	}
	ev.converged(t, doc, applyOps(t, snap.State, snap.Rev, ans.deltas.Operations))
}
