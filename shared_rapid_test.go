package syncd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/memstore"
)

// TestSharedEngineLaws drives two or three engines on one shared store
// with rounds of concurrent edits from several clients — new requests
// with stale or missing bases, and resends of earlier requests to another
// engine — and checks: the stored log's revisions are contiguous and hold
// each client request once; every acknowledged edit is in the log at the
// revision it was acknowledged with; no edit is answered unavailable or
// internal (conflicts are decided again, not failed); a read on any engine
// after a round sees every acknowledgement of the round; every engine and
// a subscriber on the last converge to the log.
func TestSharedEngineLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(2, 3).Draw(t, "engines")
		sh := memstore.NewShared(memstore.Options{})
		stores := make([]syncd.Store, n)
		engines := make([]*syncd.Engine, n)
		for i := range engines {
			stores[i] = sh.Open()
			e, err := syncd.Open(stores[i], syncd.Options{RingSize: 8})
			if err != nil {
				t.Fatal(err)
			}
			engines[i] = e
		}
		defer func() {
			for i, e := range engines {
				e.Close()
				stores[i].Close()
			}
			sh.Close()
		}()
		ctx := context.Background()
		const doc = "law"
		if _, err := engines[0].Commit(ctx, doc, syncd.Edit{Patch: json.RawMessage(`{"l":[1,2],"o":{},"b":0}`)}); err != nil {
			t.Fatal(err)
		}
		rec := newRecorder()
		sub, err := engines[n-1].Subscribe(ctx, doc, syncd.SubscribeRequest{}, rec.sink)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()

		type request struct {
			client, req, patch string
		}
		var sent []request          // every request sent, for resends
		nextReq := map[string]int{} // per client
		acked := map[[2]string]revision.Rev{}
		head := revision.Rev(1)
		rounds := rapid.IntRange(1, 8).Draw(t, "rounds")
		for round := range rounds {
			k := rapid.IntRange(1, 4).Draw(t, "parallel")
			type call struct {
				engine int
				req    request
				ed     syncd.Edit
				op     *syncd.Op
				err    error
			}
			calls := make([]call, k)
			for j := range calls {
				// One client per slot, so that a client's requests are
				// sent in order.
				client := fmt.Sprintf("c%d", j)
				var r request
				if len(sent) > 0 && rapid.IntRange(0, 3).Draw(t, "resend") == 0 {
					r = rapid.SampledFrom(sent).Draw(t, "again")
					if r.client != client {
						r = request{}
					}
				}
				if r.client == "" {
					nextReq[client]++
					r = request{client: client, req: fmt.Sprintf("r%d", nextReq[client]), patch: genPatch(t)}
					sent = append(sent, r)
				}
				ed := syncd.Edit{ClientID: r.client, ReqID: r.req, Patch: json.RawMessage(r.patch)}
				if rapid.Bool().Draw(t, "hasBase") {
					ed.Base = head - revision.Rev(rapid.IntRange(0, min(3, int(head))).Draw(t, "behind"))
					ed.HasBase = true
				}
				calls[j] = call{engine: rapid.IntRange(0, n-1).Draw(t, "engine"), req: r, ed: ed}
			}
			var wg sync.WaitGroup
			for j := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := &calls[j]
					c.op, c.err = engines[c.engine].Commit(ctx, doc, c.ed)
				}()
			}
			wg.Wait()
			for _, c := range calls {
				key := [2]string{c.req.client, c.req.req}
				switch code := syncd.CodeOf(c.err); {
				case c.err == nil:
					if r, ok := acked[key]; ok && r != c.op.Rev {
						t.Fatalf("round %d: %v acknowledged at %d and again at %d", round, key, r, c.op.Rev)
					}
					acked[key] = c.op.Rev
					head = max(head, c.op.Rev)
				case code == syncd.CodeUnavailable || code == syncd.CodeInternal:
					t.Fatalf("round %d: %v on engine %d: %v", round, key, c.engine, c.err)
				}
			}
			// Reads after the round see every acknowledgement of it.
			i := rapid.IntRange(0, n-1).Draw(t, "reader")
			s, err := engines[i].State(ctx, doc)
			if err != nil || s.Rev < head {
				t.Fatalf("round %d: State on engine %d at %v (%v), an edit was acknowledged at %d", round, i, s, err, head)
			}
		}
		ops := requireConverged(t, engines, stores[0], doc)
		for key, rev := range acked {
			if op := ops[rev-1]; op.ClientID != key[0] || op.ClientReqID != key[1] {
				t.Fatalf("%v acknowledged at %d, the log has %s/%s there", key, rev, op.ClientID, op.ClientReqID)
			}
		}
		last := ops[len(ops)-1].Rev
		evs := rec.snapshot()
		for deadline := time.After(10 * time.Second); lastRev(evs) < last; evs = rec.snapshot() {
			select {
			case <-rec.signal:
			case <-deadline:
				t.Fatalf("the subscriber is at %d, the log at %d", lastRev(evs), last)
			}
		}
		rp := &replica{t: nopT{t}}
		rp.apply(evs)
		if got, want := fmt.Sprint(rp.state), fmt.Sprint(replayOps(t, ops)); got != want {
			t.Fatalf("the subscriber has %s, the log replays to %s", got, want)
		}
	})
}

// nopT lets a replica report to a *rapid.T.
type nopT struct{ *rapid.T }

func (nopT) Helper() {}
