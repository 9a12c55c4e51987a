package server_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
)

// Exactly once: a client that keeps its clientId and uses increasing
// request ids resends pending edits after a reconnect; each is applied at
// most once, and the watermark in the JOIN answer (ackedReqId) tells it
// which ones were decided. (After a server restart: restart_test.go.)

// pendingEdit is an edit a client sent (or meant to send) and has not seen
// acknowledged.
type pendingEdit struct {
	id    string
	patch map[string]any
}

// resumeEdits is the client's algorithm after a JOIN answer, as
// PROTOCOL.md states it: pending edits above the watermark are resent as
// they are; those at or below it that the catch-up did not show committed
// were refused (the refusal was lost with the connection) and are
// re-issued under new ids. It returns the ids it waits for.
func (c *client) resumeEdits(doc string, ans joinAnswer, pending []pendingEdit) []string {
	c.t.Helper()
	committed := map[string]bool{}
	if ans.deltas != nil {
		for _, op := range ans.deltas.Operations {
			if op.ClientID == c.author {
				committed[op.ClientReqID] = true
			}
		}
	}
	var wait []string
	for _, p := range pending {
		switch {
		case committed[p.id]:
			// acknowledged by the catch-up
		case ans.acked() != "" && revision.CompareReqID(p.id, ans.acked()) <= 0:
			id := c.nextReq()
			c.update(doc, p.patch, id)
			wait = append(wait, id)
		default:
			c.update(doc, p.patch, p.id)
			wait = append(wait, p.id)
		}
	}
	return wait
}

// onceEach fails unless every key appears in exactly one operation of doc
// (each logical edit applied exactly once) and no request id was applied
// twice.
func (ev *env) onceEach(t *testing.T, doc string, keys []string) {
	t.Helper()
	count := map[string]int{}
	reqs := map[string]int{}
	for _, op := range ev.ops(doc) {
		for _, k := range keys {
			if containsKey(op.Payload, k) {
				count[k]++
			}
		}
		if op.ClientReqID != "" {
			reqs[op.ClientID+"/"+op.ClientReqID]++
		}
	}
	for _, k := range keys {
		if count[k] != 1 {
			t.Errorf("edit %s applied %d times", k, count[k])
		}
	}
	for r, n := range reqs {
		if n != 1 {
			t.Errorf("request %s applied %d times", r, n)
		}
	}
}

func containsKey(payload []byte, key string) bool {
	return bytes.Contains(payload, []byte(`"`+key+`"`))
}

func TestExactlyOnceResendAfterReconnect(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "once/reconnect"
	ev.pad(doc, 8<<10)
	id := newClientID()
	c := ev.dialID(id)
	snap := c.join(doc)

	var keys []string
	var acked []protocol.Operation
	for i := 0; i < 3; i++ {
		keys = append(keys, fmt.Sprintf("k%d", i))
		acked = append(acked, c.edit(doc, map[string]any{keys[i]: i}))
	}
	pos := revision.Position{Epoch: snap.Epoch, Rev: acked[2].Rev}
	// Two more go out, and the connection drops before their acks; a
	// third was still waiting in the client when it did.
	var pending []pendingEdit
	for i := 3; i < 6; i++ {
		keys = append(keys, fmt.Sprintf("k%d", i))
		p := pendingEdit{id: c.nextReq(), patch: map[string]any{keys[i]: i}}
		pending = append(pending, p)
		if i < 5 {
			c.update(doc, p.patch, p.id)
		}
	}
	c.ws.UnderlyingConn().Close()

	c2 := ev.dialID(id)
	c2.seq = c.seq
	ans := c2.joinAt(doc, pos)
	if ans.deltas == nil {
		t.Fatalf("want deltas after %d", pos.Rev)
	}
	w := ans.acked()
	if revision.CompareReqID(w, acked[2].ClientReqID) < 0 || revision.CompareReqID(w, pending[1].id) > 0 {
		t.Fatalf("ackedReqId %q: want between %s and %s", w, acked[2].ClientReqID, pending[1].id)
	}
	// Every decided edit of this client after pos is in the catch-up, and
	// nothing above the watermark is.
	for _, op := range ans.deltas.Operations {
		if op.ClientID == protocol.AuthorID(id) && revision.CompareReqID(op.ClientReqID, w) > 0 {
			t.Fatalf("op %s above the watermark %s", op.ClientReqID, w)
		}
	}

	// Resending committed ids (what a careless client does) is refused as
	// already decided, with details; nothing is applied twice.
	head := ev.snapshot(doc).Rev
	for _, op := range acked {
		c2.update(doc, map[string]any{"dup": op.ClientReqID}, op.ClientReqID)
		p := c2.expectError(protocol.CodeAlreadyExists)
		if d := updateDetails(t, p, doc, op.ClientReqID); d.ServerRev != head {
			t.Fatalf("details %+v, head %d", d, head)
		}
	}
	for _, p := range pending {
		if revision.CompareReqID(p.id, w) <= 0 {
			c2.update(doc, map[string]any{"dup": p.id}, p.id)
			updateDetails(t, c2.expectError(protocol.CodeAlreadyExists), doc, p.id)
		}
	}
	for _, rid := range c2.resumeEdits(doc, ans, pending) {
		c2.ack(rid)
	}
	ev.onceEach(t, doc, keys)
	if got := ev.state(doc); got["k5"] == nil || got["dup"] != nil {
		t.Fatalf("state %v", got)
	}
}

func TestRefusedEditReissuedUnderNewID(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "once/refused"
	ev.pad(doc, 4<<10)
	a := ev.dial("")
	snap := a.join(doc)
	b := ev.dial("")
	b.join(doc)
	theirs := b.edit(doc, []any{map[string]any{"op": "add", "path": "/title", "value": "theirs"}}, map[string]any{"baseRev": snap.Rev})
	a.ackFrom(b.id, theirs.ClientReqID)

	// A's edit of the same path, based on the old revision: ABORTED.
	id := a.nextReq()
	a.update(doc, []any{map[string]any{"op": "add", "path": "/title", "value": "mine"}}, id, map[string]any{"baseRev": snap.Rev})
	p := a.expectError(protocol.CodeAborted)
	if d := updateDetails(t, p, doc, id); d.ServerRev != theirs.Rev {
		t.Fatalf("details %+v", d)
	}
	if p.RetryAfterMs == nil || *p.RetryAfterMs <= 0 || p.Retryable == nil || !*p.Retryable {
		t.Fatalf("ABORTED without a retry hint: %+v", p)
	}
	// The refused id is decided: resending it is ALREADY_EXISTS, even
	// though it would now apply.
	a.update(doc, []any{map[string]any{"op": "add", "path": "/title", "value": "mine"}}, id, map[string]any{"baseRev": theirs.Rev})
	updateDetails(t, a.expectError(protocol.CodeAlreadyExists), doc, id)
	// Re-issued, rebased, under a new id: applied.
	op := a.edit(doc, []any{map[string]any{"op": "replace", "path": "/title", "value": "mine"}}, map[string]any{"baseRev": theirs.Rev})
	b.ackFrom(a.id, op.ClientReqID)

	// A failing JSON Patch test: FAILED_PRECONDITION, decided too.
	id = a.nextReq()
	a.update(doc, []any{map[string]any{"op": "test", "path": "/title", "value": "theirs"}, map[string]any{"op": "remove", "path": "/title"}}, id)
	updateDetails(t, a.expectError(protocol.CodeFailedPrecondition), doc, id)
	a.update(doc, []any{map[string]any{"op": "test", "path": "/title", "value": "mine"}}, id)
	updateDetails(t, a.expectError(protocol.CodeAlreadyExists), doc, id)
	a.edit(doc, []any{map[string]any{"op": "test", "path": "/title", "value": "mine"}, map[string]any{"op": "remove", "path": "/title"}})

	// A refusal lost with the connection: the watermark in the JOIN answer
	// is the refused id, the catch-up does not show it committed, so the
	// client re-issues it under a new id.
	cur := ev.snapshot(doc)
	id = a.nextReq()
	a.update(doc, []any{map[string]any{"op": "replace", "path": "/missing", "value": 1}}, id)
	ctx := context.Background()
	waitFor(t, readTimeout, "the refusal to be recorded", func() bool {
		w, err := ev.store.Watermark(ctx, doc, a.id)
		return err == nil && w.ReqID == id
	})
	a.ws.Close()
	a2 := ev.dialID(a.id)
	a2.seq = a.seq
	ans := a2.joinAt(doc, revision.Position{Epoch: cur.Epoch, Rev: cur.Rev})
	if ans.acked() != id || ans.deltas == nil || len(ans.deltas.Operations) != 0 {
		t.Fatalf("answer after a lost refusal: acked %q deltas %+v", ans.acked(), ans.deltas)
	}
	wait := a2.resumeEdits(doc, ans, []pendingEdit{{id: id, patch: map[string]any{"missing": 1}}})
	if len(wait) != 1 || wait[0] == id {
		t.Fatalf("re-issued as %v", wait)
	}
	a2.ack(wait[0])
	if ev.state(doc)["missing"] == nil {
		t.Fatal("re-issued edit not applied")
	}
}
