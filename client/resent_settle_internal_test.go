package client

import (
	"encoding/json"
	"testing"

	"github.com/deltasync/syncd/protocol"
)

// TestResentEditWaitingIsSettledByOutcomes: an edit resent after a lost
// connection (§6.8 step 2) and refused UNAVAILABLE waits, unsent, to go
// again under the same id. If that connection is lost too, its id has
// still gone out (twice): the next JOIN answer must settle it like any
// other sent edit. Here the answer is a snapshot whose outcomes say it
// committed (the first copy was decided after all, in a cluster by the
// server the client left). Treated as never sent, it would go again under
// the same id, be answered ALREADY_EXISTS, which for a resent edit
// re-issues it under a new id: applied twice, against PROTOCOL.md §6.8
// step 3 and §10.3.
func TestResentEditWaitingIsSettledByOutcomes(t *testing.T) {
	r := newResentDoc(t)
	r.refuse("r-5", protocol.CodeUnavailable) // a waits, unsent, to go again as r-5
	// The connection drops; the new one's JOIN answer is a snapshot at
	// revision 6 (r-5 committed as 5, r-6 as 6).
	r.c.mu.Lock()
	r.d.live = false
	r.d.joined = make(chan struct{})
	close(r.d.joined)
	r.d.snapshotLocked(&protocol.SyncSnapshot{
		Doc: "d", Epoch: r.d.epoch, Rev: 6, State: json.RawMessage(`{"a":1}`),
		AckedReqID: "r-6",
		Outcomes:   []protocol.Outcome{{ClientReqID: "r-5", Rev: 5}, {ClientReqID: "r-6", Rev: 6}},
	}, true)
	var still []string
	for _, e := range r.d.pending {
		still = append(still, e.id)
	}
	r.c.mu.Unlock()
	if len(still) != 0 {
		// What the server answers to the resend of r-5:
		r.refuse("r-5", protocol.CodeAlreadyExists)
		r.c.mu.Lock()
		var after []string
		for _, e := range r.d.pending {
			after = append(after, e.id)
		}
		r.c.mu.Unlock()
		t.Fatalf("after a JOIN answer whose outcomes say r-5 and r-6 committed, pending %v (want none); after the server's ALREADY_EXISTS for the resent r-5, pending %v: the committed edit is re-issued under a new id and applied twice", still, after)
	}
}
