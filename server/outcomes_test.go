package server_test

import (
	"slices"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
)

// TestJoinAnswerCarriesOutcomes: a client whose answers were lost learns
// from a snapshot answer what became of each of its recent request ids,
// committed (at which revision) or refused (with which code), so that no
// pending edit's outcome stays unknown (PROTOCOL.md §6.8).
func TestJoinAnswerCarriesOutcomes(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	id := newClientID()
	a := ev.dialID(id)
	a.join("d")
	committed := a.edit("d", map[string]any{"x": 1})
	invalid := a.nextReq()
	a.update("d", []any{map[string]any{"op": "jump", "path": "/x"}}, invalid)
	a.expectError(protocol.CodeInvalidArgument)
	precond := a.nextReq()
	a.update("d", []any{map[string]any{"op": "remove", "path": "/nope"}}, precond)
	a.expectError(protocol.CodeFailedPrecondition)
	b := ev.dialID(newClientID())
	b.join("d")
	b.edit("d", map[string]any{"y": 2}) // another client's: not among a's outcomes
	a.ws.Close()

	want := []protocol.Outcome{
		{ClientReqID: committed.ClientReqID, Rev: committed.Rev},
		{ClientReqID: invalid, Code: protocol.CodeInvalidArgument},
		{ClientReqID: precond, Code: protocol.CodeFailedPrecondition},
	}
	again := ev.dialID(id)
	snap := again.join("d") // no position: a snapshot
	if snap.AckedReqID != precond || !slices.Equal(snap.Outcomes, want) {
		t.Fatalf("snapshot answer: ackedReqId %q, outcomes %+v; want %q, %+v", snap.AckedReqID, snap.Outcomes, precond, want)
	}
	// A deltas answer carries them too: one rule for every JOIN answer.
	ans := again.joinAt("d", revision.Position{Epoch: snap.Epoch, Rev: snap.Rev})
	if ans.deltas == nil || !slices.Equal(ans.deltas.Outcomes, want) {
		t.Fatalf("deltas answer %+v: want outcomes %+v", ans.deltas, want)
	}
	// A client with no decisions gets none.
	if s := ev.dialID(newClientID()).join("d"); s.AckedReqID != "" || len(s.Outcomes) != 0 {
		t.Fatalf("a new client got %q, %+v", s.AckedReqID, s.Outcomes)
	}
}
