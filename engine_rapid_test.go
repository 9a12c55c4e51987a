package syncd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/memstore"
)

// genPatch draws an edit touching a small set of paths, so that edits
// often overlap: members of the root, of a nested object, and an array.
func genPatch(t *rapid.T) string {
	switch rapid.IntRange(0, 5).Draw(t, "kind") {
	case 0:
		return fmt.Sprintf(`{"%s":%d}`, rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "key"), rapid.IntRange(0, 9).Draw(t, "v"))
	case 1:
		return fmt.Sprintf(`{"o":{"%s":%d}}`, rapid.SampledFrom([]string{"x", "y"}).Draw(t, "key"), rapid.IntRange(0, 9).Draw(t, "v"))
	case 2:
		return fmt.Sprintf(`{"%s":null}`, rapid.SampledFrom([]string{"a", "o"}).Draw(t, "key"))
	case 3:
		return fmt.Sprintf(`[{"op":"add","path":"/l/-","value":%d}]`, rapid.IntRange(0, 9).Draw(t, "v"))
	case 4:
		return fmt.Sprintf(`[{"op":"replace","path":"/l/%d","value":0}]`, rapid.IntRange(0, 3).Draw(t, "i"))
	default:
		return fmt.Sprintf(`[{"op":"test","path":"/b","value":%d},{"op":"add","path":"/o/z","value":1}]`, rapid.IntRange(0, 2).Draw(t, "v"))
	}
}

// TestEngineLaws drives an engine with random edits from several simulated
// clients, each with its own (often stale) view, and checks against a model:
// revisions are contiguous; the log replays to the engine's state; every
// accepted (client, request) is in the log exactly once; an edit is refused
// as a conflict exactly when its paths overlap another client's operation
// committed after its base; duplicates are refused. rapid prints the seed of a failure.
func TestEngineLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		st := memstore.New(memstore.Options{})
		e, err := syncd.Open(st, syncd.Options{RingSize: 8})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		defer e.Close()
		ctx := context.Background()
		const doc = "law"
		mustOK := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		_, err = e.Commit(ctx, doc, syncd.Edit{Patch: json.RawMessage(`{"l":[1,2],"o":{},"b":0}`)})
		mustOK(err)

		// Model: states[r] is the document at revision r; paths[r] what
		// operation r touched.
		var first any = map[string]any{}
		p0, _ := delta.ParsePatch([]byte(`{"l":[1,2],"o":{},"b":0}`))
		ch0, err := p0.Apply(&first)
		mustOK(err)
		states := []any{map[string]any{}, first}
		paths := []delta.PathSet{{}, ch0.Paths}
		authors := []string{"", ""} // authors[r]: the client of operation r
		clients := []string{"c0", "c1", "c2"}
		nextReq := map[string]int{}
		accepted := map[string]int{}

		steps := rapid.IntRange(1, 40).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			head := revision.Rev(len(states) - 1)
			client := rapid.SampledFrom(clients).Draw(t, "client")
			base := revision.Rev(rapid.IntRange(0, int(head)).Draw(t, "base"))
			if base < head-6 && head > 6 { // stay within the ring
				base = head - 6
			}
			dup := nextReq[client] > 0 && rapid.IntRange(0, 9).Draw(t, "dup") == 0
			req := nextReq[client]
			if !dup {
				req++
				nextReq[client] = req
			}
			reqID := fmt.Sprintf("%06d", req)
			patch := genPatch(t)

			// What the model says should happen.
			p, err := delta.ParsePatch([]byte(patch))
			mustOK(err)
			trial := delta.Clone(states[head])
			ch, applyErr := p.Apply(&trial)
			wantConflict := false
			if applyErr == nil {
				for r := base + 1; r <= head; r++ {
					if authors[r] != client && paths[r].Overlaps(ch.Paths) {
						wantConflict = true
					}
				}
			}

			op, err := e.Commit(ctx, doc, syncd.Edit{ClientID: client, ReqID: reqID, Base: base, HasBase: true, Patch: json.RawMessage(patch)})
			switch {
			case dup:
				if syncd.CodeOf(err) != syncd.CodeDuplicate {
					t.Fatalf("duplicate %s/%s: got %v", client, reqID, err)
				}
			case applyErr != nil:
				if c := syncd.CodeOf(err); c != syncd.CodePrecondition {
					t.Fatalf("patch %s fails in the model (%v) but engine says %v", patch, applyErr, err)
				}
			case wantConflict:
				if syncd.CodeOf(err) != syncd.CodeConflict {
					t.Fatalf("patch %s based on %d should conflict, got %v", patch, base, err)
				}
			default:
				if err != nil {
					t.Fatalf("patch %s based on %d: %v", patch, base, err)
				}
				if op.Rev != head+1 {
					t.Fatalf("revision %d after head %d", op.Rev, head)
				}
				states = append(states, trial)
				paths = append(paths, ch.Paths)
				authors = append(authors, client)
				accepted[client+"/"+reqID]++
			}
		}

		// The log, replayed, equals the engine's state and the model's.
		snap, err := e.State(ctx, doc)
		mustOK(err)
		if snap.Rev != revision.Rev(len(states)-1) {
			t.Fatalf("head %d, model %d", snap.Rev, len(states)-1)
		}
		var replay any = map[string]any{}
		seen := map[string]int{}
		var after revision.Rev
		for {
			rng, err := e.ReadOps(ctx, doc, after, 5)
			ops := rng.Ops
			mustOK(err)
			if len(ops) == 0 {
				break
			}
			for _, op := range ops {
				if op.Rev != after+1 {
					t.Fatalf("log skips from %d to %d", after, op.Rev)
				}
				after = op.Rev
				p, err := delta.ParsePatch(op.Payload)
				mustOK(err)
				_, err = p.Apply(&replay)
				mustOK(err)
				if op.ClientID != "" {
					seen[op.ClientID+"/"+op.ClientReqID]++
				}
			}
		}
		if after != snap.Rev {
			t.Fatalf("log ends at %d, head %d", after, snap.Rev)
		}
		if !delta.Equal(replay, decodeMust(string(snap.State))) || !delta.Equal(replay, states[len(states)-1]) {
			t.Fatalf("replay %v, engine %s, model %v", replay, snap.State, states[len(states)-1])
		}
		for k, n := range seen {
			if n != 1 || accepted[k] != 1 {
				t.Fatalf("%s: %d times in the log, accepted %d times", k, n, accepted[k])
			}
		}
		if len(seen) != len(accepted) {
			t.Fatalf("log has %d client edits, model accepted %d", len(seen), len(accepted))
		}
	})
}

func decodeMust(s string) any {
	v, err := delta.Decode([]byte(s))
	if err != nil {
		panic(err)
	}
	return v
}
