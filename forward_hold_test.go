package syncd_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/deltasync/syncd"
)

// Forward mode ends once only the forwarding engine's clients write, even
// though they go on writing: the forwards do not extend the hold, and the
// home's replies stop saying the document is contended once nobody else
// wrote it for a hold. While the home's own clients write too, or the home
// does not answer in time, the forwarder stays in forward mode past the
// hold.
func TestForwardModeEndsWhenContentionEnds(t *testing.T) {
	const hold = time.Second
	step := hold / 4

	t.Run("only the forwarder writes", func(t *testing.T) {
		c := openForwarding(t, 2, syncd.Options{ForwardHold: hold})
		b := c.engines[1]
		c.contend(t, 1, "d") // the home's last write of its own is now
		var forwarded []uint64
		for i := range 12 { // 3 holds
			c.clock.advance(step)
			mustCommit(t, b, "d", idem("c", fmt.Sprintf("r%02d", i), fmt.Sprintf(`{"a":%d}`, i)))
			forwarded = append(forwarded, b.Stats().ForwardsOut)
		}
		if n := b.Stats().ForwardModeDocs; n != 0 {
			t.Fatalf("%d documents in forward mode after 3 holds of the forwarder's clients alone; forwards after each edit: %v", n, forwarded)
		}
		if last := len(forwarded) - 1; forwarded[last] != forwarded[last-4] {
			t.Fatalf("still forwarding in the last hold: forwards after each edit %v", forwarded)
		}
		requireConverged(t, c.engines, c.engines[0].Store(), "d")
	})

	t.Run("the home does not answer in time", func(t *testing.T) {
		c := openForwarding(t, 2, syncd.Options{ForwardHold: hold})
		b := c.engines[1]
		c.contend(t, 1, "d")
		c.fwds[1].mode.Store(fwdDrop) // every forward times out; decided here
		for i := range 12 {
			c.clock.advance(step)
			mustCommit(t, b, "d", idem("c", fmt.Sprintf("r%02d", i), fmt.Sprintf(`{"a":%d}`, i)))
		}
		if n := b.Stats().ForwardModeDocs; n != 1 {
			t.Fatalf("%d documents in forward mode while the home does not answer, want 1", n)
		}
		if n := b.Stats().ForwardsUnknown; n != 12 {
			t.Fatalf("%d forwards timed out, want 12", n)
		}
		requireConverged(t, c.engines, c.engines[0].Store(), "d")
	})

	t.Run("the home writes too", func(t *testing.T) {
		c := openForwarding(t, 2, syncd.Options{ForwardHold: hold})
		home, b := c.engines[0], c.engines[1]
		c.contend(t, 1, "d")
		before := b.Stats().ForwardsOut
		for i := range 12 {
			c.clock.advance(step)
			mustCommit(t, home, "d", idem("h", fmt.Sprintf("r%02d", i), fmt.Sprintf(`{"h":%d}`, i)))
			mustCommit(t, b, "d", idem("c", fmt.Sprintf("r%02d", i), fmt.Sprintf(`{"a":%d}`, i)))
		}
		if n := b.Stats().ForwardModeDocs; n != 1 {
			t.Fatalf("%d documents in forward mode while the home's clients write too, want 1", n)
		}
		if got := b.Stats().ForwardsOut - before; got != 12 {
			t.Fatalf("forwarded %d of 12 edits while the home wrote too", got)
		}
		requireConverged(t, c.engines, home.Store(), "d")
	})
}
