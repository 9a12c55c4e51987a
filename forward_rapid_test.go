package syncd_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// TestForwardLaws drives two or three engines on one shared store that
// forward to engine 0, with forward mode switched on (another engine
// reports the document contended) and off (the hold time passes) at
// random, and each forwarder delivering, failing as "not delivered",
// losing its replies or dropping its edits at random, while clients on
// random engines send edits concurrently (one client's edits one after
// another) and resend earlier ones. It checks: the stored log's revisions
// are contiguous and hold each client request once; every acknowledged
// edit is in the log at the revision it was acknowledged with; each
// client's requests are stored in the order the client sent them; no edit
// is answered unavailable or internal; every engine converges to the log.
func TestForwardLaws(t *testing.T) {
	var forwarded, fallbacks atomic.Uint64
	defer func() {
		t.Logf("forwarded %d edits, %d of them decided locally after all", forwarded.Load(), fallbacks.Load())
		if forwarded.Load() == 0 {
			t.Error("no run forwarded an edit")
		}
	}()
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(2, 3).Draw(t, "engines")
		c := openForwardingRapid(t, n)
		defer c.shutdown()
		ctx := t.Context()
		const doc = "laws"
		for _, e := range c.engines {
			if _, err := e.Commit(ctx, doc, syncd.Edit{Patch: json.RawMessage(`{"init":1}`)}); err != nil {
				t.Fatal(err)
			}
		}
		type request struct{ client, req string }
		var sent []request
		nextReq := map[string]int{}
		acked := map[request]revision.Rev{}
		rounds := rapid.IntRange(1, 6).Draw(t, "rounds")
		for round := range rounds {
			for i, f := range c.fwds {
				f.mode.Store(int32(rapid.IntRange(0, 5).Draw(t, fmt.Sprintf("mode%d", i)) % 4))
				if rapid.Bool().Draw(t, fmt.Sprintf("contended%d", i)) {
					c.engines[i].Contended(doc)
				}
			}
			if rapid.IntRange(0, 3).Draw(t, "holdPasses") == 0 {
				c.clock.advance(time.Minute)
			}
			clients := rapid.IntRange(1, 4).Draw(t, "clients")
			type call struct {
				engine int
				req    request
				op     *syncd.Op
				err    error
			}
			calls := make([][]call, clients)
			for j := range calls {
				client := fmt.Sprintf("c%d", j)
				engine := rapid.IntRange(0, n-1).Draw(t, "engine")
				for range rapid.IntRange(1, 3).Draw(t, "edits") {
					r := request{}
					if len(sent) > 0 && rapid.IntRange(0, 4).Draw(t, "resend") == 0 {
						if again := rapid.SampledFrom(sent).Draw(t, "again"); again.client == client {
							r = again
						}
					}
					if r.client == "" {
						nextReq[client]++
						r = request{client, fmt.Sprintf("r%03d", nextReq[client])}
						sent = append(sent, r)
					}
					calls[j] = append(calls[j], call{engine: engine, req: r})
				}
			}
			var wg sync.WaitGroup
			for j := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := range calls[j] {
						cl := &calls[j][k]
						ed := syncd.Edit{ClientID: cl.req.client, ReqID: cl.req.req, Patch: json.RawMessage(fmt.Sprintf(`{%q:%q}`, cl.req.client, cl.req.req))}
						cl.op, cl.err = c.engines[cl.engine].Commit(ctx, doc, ed)
					}
				}()
			}
			wg.Wait()
			for _, cs := range calls {
				for _, cl := range cs {
					switch code := syncd.CodeOf(cl.err); {
					case cl.err == nil:
						if r, ok := acked[cl.req]; ok && r != cl.op.Rev {
							t.Fatalf("round %d: %v acknowledged at %d and again at %d", round, cl.req, r, cl.op.Rev)
						}
						acked[cl.req] = cl.op.Rev
					case code == syncd.CodeUnavailable || code == syncd.CodeInternal:
						t.Fatalf("round %d: %v on engine %d: %v", round, cl.req, cl.engine, cl.err)
					}
				}
			}
		}
		for _, f := range c.fwds {
			f.mode.Store(fwdDeliver)
		}
		for _, e := range c.engines {
			s := e.Stats()
			forwarded.Add(s.ForwardsOut)
			fallbacks.Add(s.ForwardsNotDelivered + s.ForwardsUnknown)
		}
		ops := requireConverged(t, c.engines, c.engines[0].Store(), doc)
		for r, rev := range acked {
			if op := ops[rev-1]; op.ClientID != r.client || op.ClientReqID != r.req {
				t.Fatalf("%v acknowledged at %d, the log has %s/%s there", r, rev, op.ClientID, op.ClientReqID)
			}
		}
		last := map[string]string{}
		for _, op := range ops {
			if op.ClientID == "" {
				continue
			}
			if prev, ok := last[op.ClientID]; ok && revision.CompareReqID(op.ClientReqID, prev) <= 0 {
				t.Fatalf("client %s: %s stored after %s", op.ClientID, op.ClientReqID, prev)
			}
			last[op.ClientID] = op.ClientReqID
		}
	})
}

// openForwardingRapid is openForwarding for a rapid run: the caller
// shuts the cluster down.
func openForwardingRapid(t *rapid.T, n int) *memCluster {
	c := newMemCluster()
	for i := range n {
		if err := c.add(i, syncd.Options{RingSize: 8}, nil); err != nil {
			c.shutdown()
			t.Fatal(err)
		}
	}
	return c
}
