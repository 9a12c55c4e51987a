package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// TestEditBoundsInvariant is the property behind maxDocumentBytes and
// maxDocumentDepth: any document an edit can produce can be sent and
// read back by everyone. Random edits, biased towards deep values, deep
// paths and copies of the document into itself, are committed; for every
// state the engine accepts:
//
//   - it is within both limits;
//   - its SYNC.SNAPSHOT message and the SYNC.DELTAS of the edit decode
//     with the protocol package's reader, which the Go SDK uses (and which
//     stops at 512 levels);
//   - the same messages nest within 512 levels, which is what the browser
//     client's JSON.parse needs (it documents no limit of its own, and the
//     engines it runs on parse far deeper);
//
// and after the rapid runs, the server is restarted on the same bolt file
// (every document reloads from a snapshot plus a tail: -snapshot-interval
// 3) and every document is joined and read over HTTP to the same state.
func TestEditBoundsInvariant(t *testing.T) {
	const maxSize = 8 << 10
	path := filepath.Join(t.TempDir(), "syncd.db")
	eo := syncd.Options{MaxDocSize: maxSize, SnapshotInterval: 3}
	so := server.Options{APIKey: apiKey}
	ev := newEnvStore(t, openBolt(t, path), eo, so)
	final := map[string]any{} // doc → its last accepted state
	n, deepest, refusedDeep, refusedLarge := 0, 0, 0, 0
	rapid.Check(t, func(rt *rapid.T) {
		n++
		doc := fmt.Sprintf("bounds-%d", n)
		state := any(map[string]any{})
		for range rapid.IntRange(1, 8).Draw(rt, "edits") {
			patch := boundsPatch(state).Draw(rt, "patch")
			ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
			op, err := ev.engine.Commit(ctx, doc, syncd.Edit{Patch: patch})
			cancel()
			var ee *syncd.Error
			if errors.As(err, &ee) && ee.Limit == syncd.LimitDocDepth {
				refusedDeep++
			}
			if errors.As(err, &ee) && ee.Limit == syncd.LimitDocSize {
				refusedLarge++
			}
			if err != nil {
				if c := syncd.CodeOf(err); c != syncd.CodeInvalid && c != syncd.CodeTooLarge && c != syncd.CodePrecondition {
					rt.Fatalf("commit %s: %v", patch, err)
				}
				continue
			}
			snap := ev.snapshot(doc)
			state = mustDecodeState(t, snap.State)
			if d := delta.Depth(state); d > ev.engine.MaxDocDepth() || len(snap.State) > maxSize {
				rt.Fatalf("accepted a document %d deep, %d bytes", d, len(snap.State))
			}
			deepest = max(deepest, delta.Depth(state))
			readsBack(rt, snap, op)
		}
		final[doc] = state
	})
	// The generator must reach the limits, or the property says little.
	t.Logf("deepest accepted document %d; refusals over the depth limit %d, over the size limit %d", deepest, refusedDeep, refusedLarge)
	if deepest < 200 || refusedDeep == 0 || refusedLarge == 0 {
		t.Fatal("the edits did not reach the limits")
	}

	ev.close()
	ev = newEnvStore(t, openBolt(t, path), eo, so)
	for doc, want := range final {
		c := ev.dial("")
		snap := c.join(doc)
		if got := mustDecodeState(t, snap.State); !delta.Equal(got, want) {
			t.Fatalf("after the restart %s joins as %.200s", doc, snap.State)
		}
		code, body, _ := ev.do("GET", "/v1/docs/"+doc, apiKey, nil)
		var read struct {
			State json.RawMessage `json:"state"`
		}
		if code != 200 || json.Unmarshal(body, &read) != nil || !delta.Equal(mustDecodeState(t, read.State), want) {
			t.Fatalf("after the restart GET %s: %d %.200s", doc, code, body)
		}
		c.ws.Close()
	}
}

// readsBack checks that the snapshot of an accepted state, and the
// operation that made it, travel in messages the Go SDK's reader decodes.
func readsBack(rt *rapid.T, snap *syncd.DocState, op *syncd.Op) {
	msgs := map[string]any{
		protocol.TypeSyncSnapshot: protocol.SyncSnapshot{Doc: snap.Doc, Epoch: snap.Epoch, Rev: snap.Rev, State: snap.State},
		protocol.TypeSyncDeltas: protocol.SyncDeltas{Doc: snap.Doc, Epoch: snap.Epoch, FromRev: op.Rev - 1, ToRev: op.Rev,
			Operations: []protocol.Operation{{Rev: op.Rev, Type: string(op.Kind), Payload: op.Payload, Ts: op.Time}}},
	}
	for typ, payload := range msgs {
		raw, err := protocol.Encode(typ, protocol.Meta{}, payload)
		if err != nil {
			rt.Fatalf("encode %s: %v", typ, err)
		}
		env, err := protocol.DecodeServerEnvelope(raw)
		if err != nil {
			rt.Fatalf("the Go SDK cannot read the %s of an accepted edit: %v", typ, err)
		}
		var v any
		if err := json.Unmarshal(env.Payload, &v); err != nil {
			rt.Fatalf("%s payload: %v", typ, err)
		}
		if d := delta.Depth(v) + 1; d > 512 {
			rt.Fatalf("%s nests %d deep", typ, d)
		}
	}
}

// boundsPatch draws an edit of state that is likely to test the limits:
// deep values at deep paths (around the 256 levels of the default), long
// strings, copies of the document or a part of it into itself, and merge
// patches.
func boundsPatch(state any) *rapid.Generator[json.RawMessage] {
	chain := 0 // how far /x/x/… goes in state
	for v := state; ; chain++ {
		m, ok := v.(map[string]any)
		if !ok || m["x"] == nil {
			break
		}
		v = m["x"]
	}
	return rapid.Custom(func(rt *rapid.T) json.RawMessage {
		at := rapid.IntRange(0, chain).Draw(rt, "at")
		deep := rapid.IntRange(0, 300).Draw(rt, "deep")
		value := strings.Repeat(`{"x":`, deep) + `"v"` + strings.Repeat("}", deep)
		var ops []string
		for range rapid.IntRange(1, 4).Draw(rt, "ops") {
			switch rapid.IntRange(0, 5).Draw(rt, "kind") {
			case 0:
				ops = append(ops, fmt.Sprintf(`{"op":"add","path":%q,"value":%s}`, deepPath(at)+"/x", value))
			case 1:
				ops = append(ops, fmt.Sprintf(`{"op":"copy","from":"","path":%q}`, deepPath(at)+"/c"))
			case 2:
				from := rapid.IntRange(0, chain).Draw(rt, "from")
				ops = append(ops, fmt.Sprintf(`{"op":"copy","from":%q,"path":%q}`, deepPath(from), deepPath(at)+"/y"))
			case 3:
				from := rapid.IntRange(1, max(chain, 1)).Draw(rt, "from")
				ops = append(ops, fmt.Sprintf(`{"op":"move","from":%q,"path":%q}`, deepPath(from), deepPath(at)+"/z"))
			case 5:
				long := strings.Repeat("s", rapid.IntRange(0, 5000).Draw(rt, "long"))
				ops = append(ops, fmt.Sprintf(`{"op":"add","path":%q,"value":%q}`, deepPath(at)+"/s", long))
			case 4:
				// A merge patch stands alone.
				return json.RawMessage(strings.Repeat(`{"x":`, at) + `{"m":` + value + `}` + strings.Repeat("}", at))
			}
		}
		return json.RawMessage("[" + strings.Join(ops, ",") + "]")
	})
}
