package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// failingLoads is a store whose first n loads of any document fail, as a
// cluster's store does while its stream elects a leader.
type failingLoads struct {
	syncd.Store
	left atomic.Int32
}

func (f *failingLoads) Load(ctx context.Context, doc string) (*syncd.StoredDoc, error) {
	if f.left.Add(-1) >= 0 {
		return nil, fmt.Errorf("no stream leader: %w", syncd.ErrUnavailable)
	}
	return f.Store.Load(ctx, doc)
}

// TestJoinRetriedWhileTheStoreFails: a JOIN the server could not answer
// (UNAVAILABLE: its store failed) is tried again, backing off, within
// Join's context, rather than failing Join at once.
func TestJoinRetriedWhileTheStoreFails(t *testing.T) {
	st := &failingLoads{Store: memstore.New(memstore.Options{})}
	st.left.Store(3)
	ev := newEnvStore(t, st, syncd.Options{}, server.Options{})
	c := dial(t, ev.url, nil)
	d, err := c.Join(ctxT(t), "flaky")
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	if st.left.Load() >= 0 {
		t.Fatalf("the store's loads never failed (%d left): the test proves nothing", st.left.Load())
	}
	if _, err := d.Merge(map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if err := d.Settled(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := ev.snapshot("flaky").State; string(got) != `{"a":1}` {
		t.Fatalf("state %s", got)
	}

	st.left.Store(1 << 20) // fails for as long as the test lasts
	ctx, cancel := context.WithTimeout(ctxT(t), 700*time.Millisecond)
	defer cancel()
	if _, err := c.Join(ctx, "down"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join while the store stays down: %v, want the context's deadline", err)
	}
}
