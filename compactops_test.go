package syncd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/memstore"
)

// TestCatchUpCompactionLaws: random histories of merge patches and JSON
// Patches from several clients, caught up from a random revision by a
// random client. Whatever the engine answers, the subscriber ends exactly
// at the head's state; when it answers with deltas, they cover the missed
// revisions contiguously, combined operations carry no author, and the
// joining client's own operations are all there, separate, as committed
// and in order (PROTOCOL.md §6.8 needs them). The documents are small, so
// the missed operations are often larger than a snapshot and compaction
// is what decides between deltas and the snapshot; a subscriber that does
// not ask for compaction never gets a combined operation. rapid prints the
// seed of a failure.
func TestCatchUpCompactionLaws(t *testing.T) {
	compacted := 0
	rapid.Check(t, func(t *rapid.T) {
		st := memstore.New(memstore.Options{})
		ring := rapid.SampledFrom([]int{4, 64}).Draw(t, "ring") // store reads, or memory only
		e, err := syncd.Open(st, syncd.Options{RingSize: ring, CatchUpPage: rapid.IntRange(1, 8).Draw(t, "page")})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		defer e.Close()
		ctx := context.Background()
		const doc = "compact"
		if _, err := e.Commit(ctx, doc, syncd.Edit{Patch: json.RawMessage(`{"l":[1,2],"o":{},"b":0}`)}); err != nil {
			t.Fatal(err)
		}
		clients := []string{"c0", "c1", "c2", ""}
		reqs := map[string]int{}
		for range rapid.IntRange(1, 60).Draw(t, "steps") {
			client := rapid.SampledFrom(clients).Draw(t, "client")
			ed := syncd.Edit{ClientID: client, Patch: json.RawMessage(genPatch(t))}
			if client != "" {
				reqs[client]++
				ed.ReqID = fmt.Sprintf("%06d", reqs[client])
			}
			// A failing JSON Patch test is refused and leaves no
			// operation: histories need only be valid.
			_, _ = e.Commit(ctx, doc, ed)
		}

		// The history as committed, and the state after each revision.
		log, states := replayLog(t, e, doc)
		snap, err := e.State(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		head := snap.Rev

		from := revision.Rev(rapid.IntRange(1, int(head)).Draw(t, "from"))
		joiner := rapid.SampledFrom(clients).Draw(t, "joiner")
		compact := rapid.IntRange(0, 3).Draw(t, "compact") > 0 // mostly
		var mu sync.Mutex
		var evs []*syncd.Event
		sub, err := e.Subscribe(ctx, doc, syncd.SubscribeRequest{ClientID: joiner, Have: revision.Position{Epoch: snap.Epoch, Rev: from}, Compact: compact}, func(ev *syncd.Event) {
			mu.Lock()
			evs = append(evs, ev)
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		mu.Lock()
		defer mu.Unlock()

		rev, state := from, delta.Clone(states[from])
		var own []*syncd.Op
		for _, ev := range evs {
			if ev.Live {
				break
			}
			switch ev.Kind {
			case syncd.EventSnapshot:
				rev, state = ev.Rev, decodeMust(string(ev.State))
			case syncd.EventDeltas:
				if ev.FromRev != rev {
					t.Fatalf("deltas from %d, subscriber at %d", ev.FromRev, rev)
				}
				for _, op := range ev.Ops {
					if op.First() != rev+1 || op.Rev < op.First() {
						t.Fatalf("op %d..%d after %d", op.First(), op.Rev, rev)
					}
					if op.FirstRev != 0 && (!compact || op.ClientID != "" || op.ClientReqID != "") {
						t.Fatalf("combined op %d..%d (compact %v) has an author: %q %q", op.FirstRev, op.Rev, compact, op.ClientID, op.ClientReqID)
					}
					if err := applyOp(op, &state); err != nil {
						t.Fatalf("op %d..%d %s: %v", op.First(), op.Rev, op.Payload, err)
					}
					if !delta.Equal(state, states[op.Rev]) {
						t.Fatalf("after op %d..%d %s: %s, want %s", op.First(), op.Rev, op.Payload, encodeAny(state), encodeAny(states[op.Rev]))
					}
					if joiner != "" && op.ClientID == joiner {
						own = append(own, op)
					}
					rev = op.Rev
				}
				if rev != ev.ToRev {
					t.Fatalf("deltas end at %d, event says %d", rev, ev.ToRev)
				}
				if ev.FromRev < ev.ToRev && len(ev.Ops) > 0 && ev.Ops[0].FirstRev != 0 {
					compacted++
				}
			}
			if ev.CatchUpDone {
				break
			}
		}
		if rev != head || !delta.Equal(state, states[head]) {
			t.Fatalf("caught up to %d: %s, want %d: %s", rev, encodeAny(state), head, encodeAny(states[head]))
		}
		if evs[0].Kind != syncd.EventDeltas || joiner == "" {
			return
		}
		var want []*syncd.Op
		for _, op := range log[from:] {
			if op.ClientID == joiner {
				want = append(want, op)
			}
		}
		if len(own) != len(want) {
			t.Fatalf("%s saw %d of its %d operations", joiner, len(own), len(want))
		}
		for i := range own {
			if own[i] != want[i] && (own[i].Rev != want[i].Rev || own[i].FirstRev != 0 || own[i].ClientReqID != want[i].ClientReqID || string(own[i].Payload) != string(want[i].Payload)) {
				t.Fatalf("own op %d: %+v, committed %+v", i, own[i], want[i])
			}
		}
	})
	t.Logf("%d catch-ups began with a combined operation", compacted)
	if compacted == 0 {
		t.Error("no catch-up was compacted: the test does not test compaction")
	}
}

// applyOp applies an operation as a client does, by its kind.
// replayLog reads doc's whole history from e and returns it with the
// state after each revision (states[0] is the empty document).
func replayLog(t *rapid.T, e *syncd.Engine, doc string) (log []*syncd.Op, states []any) {
	states = []any{map[string]any{}}
	for after := revision.Rev(0); ; {
		rng, err := e.ReadOps(context.Background(), doc, after, 64)
		ops := rng.Ops
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) == 0 {
			return log, states
		}
		for _, op := range ops {
			next := delta.Clone(states[len(states)-1])
			if err := applyOp(op, &next); err != nil {
				t.Fatalf("log op %d: %v", op.Rev, err)
			}
			states, log = append(states, next), append(log, op)
			after = op.Rev
		}
	}
}

func applyOp(op *syncd.Op, doc *any) error {
	var p *delta.Patch
	var err error
	if op.Kind == syncd.OpMerge {
		p, err = delta.ParseMergePatch(op.Payload)
	} else {
		p, err = delta.ParseJSONPatch(op.Payload)
	}
	if err == nil {
		_, err = p.Apply(doc)
	}
	return err
}

func encodeAny(v any) string {
	b, err := delta.Encode(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// TestCatchUpFromMembers: histories of merge patches that rewrite a few
// members over and over (field for field, with other fields now and then,
// deletions, whole values replaced, and sometimes a JSON Patch), caught up
// from every revision the ring holds by a client that never wrote. The
// engine answers many of these from its member index (PROTOCOL.md §6.3
// lets it choose); whichever way it answers, the subscriber ends exactly
// at the head, and a combined operation covers the revisions it claims.
func TestCatchUpFromMembers(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		st := memstore.New(memstore.Options{})
		ring := rapid.SampledFrom([]int{8, 64}).Draw(t, "ring")
		e, err := syncd.Open(st, syncd.Options{RingSize: ring})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		defer e.Close()
		ctx := context.Background()
		const doc = "members"
		member := rapid.SampledFrom([]string{"k0", "k1", "k2", "k3"})
		edit := func() string {
			k := member.Draw(t, "member")
			switch rapid.IntRange(0, 9).Draw(t, "edit") {
			case 0:
				return fmt.Sprintf(`{%q:null}`, k)
			case 1:
				return fmt.Sprintf(`{%q:{"v":%d,"extra":true}}`, k, rapid.IntRange(0, 9).Draw(t, "v"))
			case 2:
				return fmt.Sprintf(`{%q:%d}`, k, rapid.IntRange(0, 9).Draw(t, "v"))
			case 3:
				return `[{"op":"add","path":"/n","value":1}]`
			default:
				return fmt.Sprintf(`{%q:{"v":%d,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}`, k, rapid.IntRange(0, 9).Draw(t, "v"))
			}
		}
		for range rapid.IntRange(2, 80).Draw(t, "edits") {
			if _, err := e.Commit(ctx, doc, syncd.Edit{ClientID: "01JD3M5Q8R2T4V6X8Z0A2C4E6G", Patch: json.RawMessage(edit())}); err != nil {
				t.Fatal(err)
			}
		}
		log, states := replayLog(t, e, doc)
		snap, err := e.State(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		head := revision.Rev(len(log))
		for from := head - revision.Rev(min(int(head), ring)); from < head; from++ {
			state := delta.Clone(states[from])
			at := from
			sink := func(ev *syncd.Event) {
				switch ev.Kind {
				case syncd.EventSnapshot:
					state, _ = delta.Decode(ev.State)
					at = ev.Rev
				case syncd.EventDeltas:
					for _, op := range ev.Ops {
						if op.First() != at+1 {
							t.Fatalf("from %d: operation %d…%d does not follow %d", from, op.First(), op.Rev, at)
						}
						if err := applyOp(op, &state); err != nil {
							t.Fatalf("from %d: operation %d…%d: %v", from, op.First(), op.Rev, err)
						}
						at = op.Rev
					}
				}
			}
			sub, err := e.Subscribe(ctx, doc, syncd.SubscribeRequest{Have: revision.Position{Epoch: snap.Epoch, Rev: from}, ClientID: "01JD3M7K2N4P6R8S0T2V4W6Y8Z", Compact: true}, sink)
			if err != nil {
				t.Fatal(err)
			}
			sub.Close()
			if at != head || encodeAny(state) != encodeAny(states[head]) {
				t.Fatalf("from %d: reached %d with %s, want %d with %s", from, at, encodeAny(state), head, encodeAny(states[head]))
			}
		}
	})
}
