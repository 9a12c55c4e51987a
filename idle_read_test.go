package syncd_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/memstore"
)

// countingStore counts Load calls.
type countingStore struct {
	syncd.Store
	loads atomic.Int64
}

func (c *countingStore) Load(ctx context.Context, doc string) (*syncd.StoredDoc, error) {
	c.loads.Add(1)
	return c.Store.Load(ctx, doc)
}

// A document read all the time is in use: the janitor unloads documents
// idle for IdleTimeout, and the budget the least recently used first. But
// reads (State, ReadOps) do not count as a use (lastUsed moves only with
// joins, writes and presence), so a document read every few milliseconds
// is unloaded every IdleTimeout and loaded again from the store (replaying
// up to SnapshotInterval operations) by the next read, and is the first
// one the budget unloads.
func TestReadDocumentIsNotIdle(t *testing.T) {
	st := &countingStore{Store: memstore.New(memstore.Options{})}
	e, err := syncd.Open(st, syncd.Options{IdleTimeout: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer e.Close()
	mustCommit(t, e, "d", merge(`{"a":1}`))
	before := st.loads.Load()
	for end := time.Now().Add(400 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if _, err := e.State(ctxT(t), "d"); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.loads.Load() - before; n > 0 {
		t.Fatalf("a document read every 5 ms was loaded %d times from the store in 400 ms (IdleTimeout 40 ms)", n)
	}
}
