package server

import (
	"encoding/json"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
)

// This file is the one place where the engine's values become the wire's:
// operations, the events of a subscription (catch-up and live), outcomes,
// and a document as the HTTP API shows it. wire_errors.go does the same for
// the engine's errors. Both the WebSocket protocol (session.go) and the HTTP
// API (httpapi.go) use them, so the two cannot drift apart.

// wireOp converts an engine operation to its wire form. FirstRev is set
// only on the combined operations of a compacted catch-up.
func wireOp(op *syncd.Op) protocol.Operation {
	return protocol.Operation{
		Rev:         op.Rev,
		Type:        string(op.Kind),
		Payload:     op.Payload,
		ClientID:    authorOf(op.ClientID),
		ClientReqID: op.ClientReqID,
		Ts:          op.Time,
		FirstRev:    op.FirstRev,
	}
}

// wireOps maps wireOp over ops, in a new slice (empty, not nil, for none:
// the wire always has the array).
func wireOps(ops []*syncd.Op) []protocol.Operation {
	w := make([]protocol.Operation, len(ops))
	for i, op := range ops {
		w[i] = wireOp(op)
	}
	return w
}

// deltasPayload is the SYNC.DELTAS of an EventDeltas: a live one, or a
// catch-up's, which also carries the client's watermark and outcomes.
func deltasPayload(ev *syncd.Event) protocol.SyncDeltas {
	return protocol.SyncDeltas{
		Doc:        ev.Doc,
		Epoch:      ev.Epoch,
		FromRev:    ev.FromRev,
		ToRev:      ev.ToRev,
		Operations: wireOps(ev.Ops),
		AckedReqID: ev.AckedReqID,
		Outcomes:   wireOutcomes(ev.Outcomes),
	}
}

// gapPayload is the REVISION_GAP that precedes an EventSnapshot with a Gap.
func gapPayload(ev *syncd.Event) protocol.RevisionGap {
	g := ev.Gap
	return protocol.RevisionGap{Doc: ev.Doc, ExpectedRev: g.ExpectedRev, ServerRev: g.ServerRev, BufferFirstRev: g.BufferFirstRev, ResumeFrom: g.ResumeFrom, Reason: string(g.Reason)}
}

// snapshotPayload is the SYNC.SNAPSHOT of an EventSnapshot.
func snapshotPayload(ev *syncd.Event) protocol.SyncSnapshot {
	return protocol.SyncSnapshot{Doc: ev.Doc, Epoch: ev.Epoch, Rev: ev.Rev, State: ev.State, AckedReqID: ev.AckedReqID, Outcomes: wireOutcomes(ev.Outcomes)}
}

// presencePayload is the PRESENCE of an EventPresence. Clients are shown
// by author id (author.go).
func presencePayload(ev *syncd.Event) protocol.Presence {
	p := protocol.Presence{Doc: ev.Doc, Clients: make([]protocol.PresenceClient, len(ev.Presence)), Left: authorsOf(ev.Left)}
	for i, c := range ev.Presence {
		p.Clients[i] = protocol.PresenceClient{ClientID: authorOf(c.ClientID), State: c.State}
	}
	return p
}

// wireOutcomes turns the engine's outcomes (refusals named by engine code)
// into the wire's (refusals named by protocol code, as the ERROR that was
// lost would have named them).
func wireOutcomes(outs []revision.Outcome) []protocol.Outcome {
	if len(outs) == 0 {
		return nil
	}
	w := make([]protocol.Outcome, len(outs))
	for i, o := range outs {
		w[i] = protocol.Outcome{ClientReqID: o.ReqID, Rev: o.Rev}
		if !o.Committed() {
			// A name this build does not know (written by a newer one)
			// still says "refused".
			code, _ := syncd.ParseCode(o.Code)
			w[i].Code = wireCode(code)
		}
	}
	return w
}

// docView is a document as the HTTP API returns it.
type docView struct {
	Doc   string          `json:"doc"`
	Epoch revision.Epoch  `json:"epoch"`
	Rev   revision.Rev    `json:"rev"`
	State json.RawMessage `json:"state"`
}

func docViewOf(st *syncd.DocState) docView {
	return docView{Doc: st.Doc, Epoch: st.Epoch, Rev: st.Rev, State: st.State}
}
