package syncd_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/memstore"
)

// open starts an engine over a fresh memstore and closes both at the end of
// the test, after checking the engine's invariants.
func open(t testing.TB, opts syncd.Options) (*syncd.Engine, *memstore.Store) {
	t.Helper()
	st := memstore.New(memstore.Options{})
	e, err := syncd.Open(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close()
		st.Close()
	})
	return e, st
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// merge builds a merge-patch edit.
func merge(v string) syncd.Edit { return syncd.Edit{Patch: json.RawMessage(v)} }

func mustCommit(t testing.TB, e *syncd.Engine, doc string, ed syncd.Edit) *syncd.Op {
	t.Helper()
	op, err := e.Commit(ctxT(t), doc, ed)
	if err != nil {
		t.Fatalf("commit %s: %v", ed.Patch, err)
	}
	return op
}

func wantCode(t testing.TB, err error, code syncd.Code) *syncd.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", code)
	}
	if got := syncd.CodeOf(err); got != code {
		t.Fatalf("got %v (%v), want %v", got, err, code)
	}
	ee, _ := err.(*syncd.Error)
	return ee
}

// recorder is a Sink that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []*syncd.Event
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) sink(ev *syncd.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder) snapshot() []*syncd.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*syncd.Event(nil), r.events...)
}

// waitFor waits until cond holds for the recorded events.
func (r *recorder) waitFor(t testing.TB, what string, cond func([]*syncd.Event) bool) []*syncd.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		evs := r.snapshot()
		if cond(evs) {
			return evs
		}
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; have %d events", what, len(evs))
		}
	}
}

// replica applies a subscription's events to a local copy, checking the
// order rules on the way: snapshots replace, deltas must continue exactly
// where the replica is.
type replica struct {
	t interface {
		Helper()
		Fatalf(string, ...any)
	}
	epoch revision.Epoch
	rev   revision.Rev
	state any
	ops   []*syncd.Op
}

func (rp *replica) apply(evs []*syncd.Event) {
	rp.t.Helper()
	for _, ev := range evs {
		switch ev.Kind {
		case syncd.EventSnapshot:
			st, err := delta.Decode(ev.State)
			if err != nil {
				rp.t.Fatalf("snapshot: %v", err)
			}
			rp.epoch, rp.rev, rp.state = ev.Epoch, ev.Rev, st
		case syncd.EventDeltas:
			if ev.Epoch != rp.epoch || ev.FromRev != rp.rev {
				rp.t.Fatalf("deltas %s@%d..%d do not continue %s@%d", ev.Epoch, ev.FromRev, ev.ToRev, rp.epoch, rp.rev)
			}
			for _, op := range ev.Ops {
				// A combined operation (catch-up compaction) stands
				// for First() … Rev.
				if op.First() != rp.rev+1 || op.Rev < op.First() {
					rp.t.Fatalf("op %d..%d after %d", op.First(), op.Rev, rp.rev)
				}
				if op.FirstRev != 0 && (ev.Live || op.ClientID != "" || op.ClientReqID != "") {
					rp.t.Fatalf("combined op %d..%d: live %v, clientId %q, clientReqId %q", op.FirstRev, op.Rev, ev.Live, op.ClientID, op.ClientReqID)
				}
				if err := applyOp(op, &rp.state); err != nil {
					rp.t.Fatalf("op %d: %v", op.Rev, err)
				}
				rp.rev = op.Rev
				rp.ops = append(rp.ops, op)
			}
			if rp.rev != ev.ToRev {
				rp.t.Fatalf("deltas end at %d, event says %d", rp.rev, ev.ToRev)
			}
		}
	}
}

func decode(t testing.TB, b []byte) any {
	t.Helper()
	v, err := delta.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func encode(t testing.TB, v any) string {
	t.Helper()
	b, err := delta.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
