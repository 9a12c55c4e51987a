package server_test

import (
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// Conflicts: an edit based on an older revision is applied when nothing
// since touched its paths (automatic rebase), refused with ABORTED when
// something did; the lww and strict policies; a base ahead of the head.

func TestAutomaticRebaseAndConflict(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "conflict/rebase"
	ev.commit(doc, map[string]any{"a": 0, "b": 0, "list": []any{1, 2}})
	a := ev.dial("")
	base := a.join(doc).Rev
	b := ev.dial("")
	b.join(doc)

	// A changes /a at the head.
	opA := a.edit(doc, []any{map[string]any{"op": "replace", "path": "/a", "value": 1}}, map[string]any{"baseRev": base})
	b.ackFrom(a.id, opA.ClientReqID)
	// B, still at base, changes /b: disjoint, so rebased and applied.
	opB := b.edit(doc, []any{map[string]any{"op": "replace", "path": "/b", "value": 2}}, map[string]any{"baseRev": base})
	if opB.Rev != opA.Rev+1 {
		t.Fatalf("rebased op at %d, want %d", opB.Rev, opA.Rev+1)
	}
	a.ackFrom(b.id, opB.ClientReqID)
	// A merge patch of a new key, also based on base: applied.
	opM := b.edit(doc, map[string]any{"c": 3}, map[string]any{"baseRev": base})
	a.ackFrom(b.id, opM.ClientReqID)

	// A client's own operations never conflict with its later edits: B
	// pipelines another change of /b on the same old base.
	opB2 := b.edit(doc, []any{map[string]any{"op": "replace", "path": "/b", "value": 2}}, map[string]any{"baseRev": base})
	a.ackFrom(b.id, opB2.ClientReqID)
	opM = opB2

	// B, still at base, changes /a: overlaps A's edit, ABORTED.
	before := ev.snapshot(doc)
	id := b.nextReq()
	b.update(doc, []any{map[string]any{"op": "replace", "path": "/a", "value": 9}}, id, map[string]any{"baseRev": base})
	if d := updateDetails(t, b.expectError(protocol.CodeAborted), doc, id); d.ServerRev != opM.Rev {
		t.Fatalf("details %+v, head %d", d, opM.Rev)
	}
	// A merge patch deleting /a overlaps too; a patch of the root
	// overlaps everything.
	id = b.nextReq()
	b.update(doc, map[string]any{"a": nil}, id, map[string]any{"baseRev": base})
	updateDetails(t, b.expectError(protocol.CodeAborted), doc, id)
	id = b.nextReq()
	b.update(doc, []any{map[string]any{"op": "replace", "path": "", "value": map[string]any{}}}, id, map[string]any{"baseRev": base})
	updateDetails(t, b.expectError(protocol.CodeAborted), doc, id)
	// Array edits conflict at the array: /list/0 and /list/1 overlap.
	opL := a.edit(doc, []any{map[string]any{"op": "replace", "path": "/list/0", "value": 10}}, map[string]any{"baseRev": opM.Rev})
	b.ackFrom(a.id, opL.ClientReqID)
	id = b.nextReq()
	b.update(doc, []any{map[string]any{"op": "replace", "path": "/list/1", "value": 20}}, id, map[string]any{"baseRev": opM.Rev})
	updateDetails(t, b.expectError(protocol.CodeAborted), doc, id)
	if s := ev.snapshot(doc); s.Rev != before.Rev+1 {
		t.Fatalf("refusals changed the document: rev %d, want %d", s.Rev, before.Rev+1)
	}
	a.quiet()

	// Without a base: arrival order, always applied.
	b.edit(doc, []any{map[string]any{"op": "replace", "path": "/a", "value": 5}})
	if got := ev.state(doc); got["a"].(float64) != 5 || got["b"].(float64) != 2 || got["c"].(float64) != 3 {
		t.Fatalf("state %v", got)
	}
	// A base ahead of the head is invalid.
	id = b.nextReq()
	b.update(doc, map[string]any{"z": 1}, id, map[string]any{"baseRev": 1000})
	updateDetails(t, b.expectError(protocol.CodeInvalidArgument), doc, id)
}

func TestConflictPolicies(t *testing.T) {
	ev := newEnv(t, syncd.Options{Policies: map[string]syncd.Policy{"lww/": syncd.PolicyLWW, "strict/": syncd.PolicyStrict}}, server.Options{})
	c := ev.dial("")

	// lww: an overlapping edit on an old base still applies.
	base := c.join("lww/x").Rev
	c.edit("lww/x", map[string]any{"v": 1}, map[string]any{"baseRev": base})
	c.edit("lww/x", map[string]any{"v": 2}, map[string]any{"baseRev": base})

	// strict: the base must be the head.
	base = c.join("strict/x").Rev
	id := c.nextReq()
	c.update("strict/x", map[string]any{"v": 1}, id)
	updateDetails(t, c.expectError(protocol.CodeAborted), "strict/x", id)
	op := c.edit("strict/x", map[string]any{"v": 1}, map[string]any{"baseRev": base})
	id = c.nextReq()
	c.update("strict/x", map[string]any{"w": 1}, id, map[string]any{"baseRev": base})
	if d := updateDetails(t, c.expectError(protocol.CodeAborted), "strict/x", id); d.ServerRev != op.Rev {
		t.Fatalf("details %+v", d)
	}
	c.edit("strict/x", map[string]any{"w": 1}, map[string]any{"baseRev": op.Rev})
}
