package syncd_test

import (
	"context"
	"sync"
	"testing"

	"github.com/deltasync/syncd"
)

// createdFirst is a handle of a shared store on which another writer
// creates doc just before this handle's first creation of it commits: a
// creation race lost every time.
type createdFirst struct {
	syncd.SharedStore
	other syncd.Store
	doc   string
	once  sync.Once
}

func (s *createdFirst) Commit(ctx context.Context, batch []syncd.Record) error {
	for _, r := range batch {
		if r.Create != nil && r.Create.Doc == s.doc {
			var err error
			s.once.Do(func() {
				err = s.other.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: s.doc, Epoch: "01JD0000000000000000000001", Time: 1}}})
			})
			if err != nil {
				return err
			}
		}
	}
	return s.SharedStore.Commit(ctx, batch)
}

// Two instances that create a new document at once (its first clients
// JOIN through both) settle it by a rebase; that is no sign of writers
// racing for the log, so the document does not go into forward mode, and
// the next edits are decided where they arrive. (Before, every creation
// race sent ForwardHold's worth of edits through the bus: in the cluster's
// fan-out benchmark, the subscribers' JOINs through three instances did.)
func TestForwardNotAfterACreationRace(t *testing.T) {
	c := newMemCluster()
	t.Cleanup(c.shutdown)
	if err := c.add(0, syncd.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.add(1, syncd.Options{}, func(h syncd.SharedStore) syncd.Store {
		return &createdFirst{SharedStore: h, other: c.stores[0], doc: "d"}
	}); err != nil {
		t.Fatal(err)
	}
	b := c.engines[1]
	ctx := ctxT(t)
	sub, err := b.Subscribe(ctx, "d", syncd.SubscribeRequest{}, func(*syncd.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := b.State(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	st := b.Stats()
	if st.Rebases == 0 {
		t.Fatal("the creation did not conflict: the test tests nothing")
	}
	if st.ForwardModeDocs != 0 {
		t.Fatalf("after a creation race, %d documents in forward mode, want 0", st.ForwardModeDocs)
	}
	before := st.ForwardsOut
	mustCommit(t, b, "d", idem("c", "r1", `{"x":1}`))
	if got := b.Stats().ForwardsOut - before; got != 0 {
		t.Fatalf("%d edits forwarded after a creation race, want 0", got)
	}
	requireConverged(t, c.engines, c.engines[0].Store(), "d")
}
