package syncd_test

import (
	"testing"

	"github.com/deltasync/syncd"
)

// A forward lost on the way (its reply, a timeout, comes late) is followed
// by the same client's next edit, which reaches the home. The home must
// not decide the later one first: the lost one, decided here afterwards,
// would be refused as a duplicate and lost. The later one is refused,
// not applied, the lost one is applied, and the later one sent again
// applies after it.
func TestForwardLostForwardKeepsClientOrder(t *testing.T) {
	c := openForwarding(t, 2, syncd.Options{})
	home, b := c.engines[0], c.engines[1]
	c.contend(t, 1, "d")

	c.fwds[1].mode.Store(fwdDropLate)
	first := make(chan error, 1)
	var firstOp *syncd.Op
	b.CommitAsync(ctxT(t), "d", idem("c", "r1", `{"a":1}`), func(op *syncd.Op, err error) {
		firstOp = op
		first <- err
	})
	c.fwds[1].mode.Store(fwdDeliver)
	_, err := b.Commit(ctxT(t), "d", idem("c", "r2", `{"a":2}`))
	wantCode(t, err, syncd.CodeUnavailable)
	if err := <-first; err != nil {
		t.Fatalf("r1, whose forward was lost: %v", err)
	}
	if n := home.Stats().ForwardsOutOfOrder; n != 1 {
		t.Fatalf("the home refused %d edits for order, want 1", n)
	}
	second := mustCommit(t, b, "d", idem("c", "r2", `{"a":2}`))
	if second.Rev != firstOp.Rev+1 {
		t.Fatalf("r1 at %d, r2 sent again at %d: want r2 right after r1", firstOp.Rev, second.Rev)
	}
	stored := requireConverged(t, c.engines, home.Store(), "d")
	for _, op := range []*syncd.Op{firstOp, second} {
		if s := stored[op.Rev-1]; s.ClientReqID != op.ClientReqID {
			t.Fatalf("%s answered at %d, which holds %q", op.ClientReqID, op.Rev, s.ClientReqID)
		}
	}
}
