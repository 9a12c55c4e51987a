package presence

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// Operation is one entry of SYNC.DELTAS in the seed's vocabulary.
type Operation struct {
	Rev  uint64 `json:"rev"`
	Type string `json:"type"` // OpJoined, OpUpdated or OpLeft
	// Payload is the participant (joined), its id and the changed fields
	// (updated), or just its id (left).
	Payload json.RawMessage `json:"payload"`
	// ClientReqID echoes the UPDATE that made the operation.
	ClientReqID string `json:"clientReqId,omitempty"`
}

// ToOperation maps an operation of the meeting document to the seed's typed
// operation. Every operation the App commits is a JSON Merge Patch of
// exactly one participant, {"<id>": value}, and value says what happened:
//
//	null                      participant.left     {"id": "<id>"}
//	an object with "id"       participant.joined   value (a join writes the whole participant)
//	an object without "id"    participant.updated  {"id": "<id>", …value} (an update writes only what changed)
//
// The operation's clientReqId, set for a client's own UPDATE, is echoed. An
// operation of any other shape is an error: the App never writes one.
func ToOperation(op *syncd.Op) (Operation, error) {
	out := Operation{Rev: uint64(op.Rev), ClientReqID: op.ClientReqID}
	if op.Kind != syncd.OpMerge {
		return out, fmt.Errorf("presence: operation %d is a %s, not a merge patch", op.Rev, op.Kind)
	}
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(op.Payload, &patch); err != nil || len(patch) != 1 {
		return out, fmt.Errorf("presence: operation %d does not patch exactly one participant", op.Rev)
	}
	for id, value := range patch {
		quotedID, _ := json.Marshal(id) // a string always encodes
		switch {
		case bytes.Equal(value, []byte("null")):
			out.Type = OpLeft
			out.Payload = json.RawMessage(`{"id":` + string(quotedID) + `}`)
		case len(value) > 0 && value[0] == '{':
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(value, &fields); err != nil {
				return out, fmt.Errorf("presence: operation %d: %w", op.Rev, err)
			}
			if _, ok := fields["id"]; ok {
				out.Type = OpJoined
				out.Payload = value
				break
			}
			// {"id": …} followed by the patch's own fields, in its order.
			out.Type = OpUpdated
			b := append([]byte(`{"id":`), quotedID...)
			if len(fields) > 0 {
				b = append(append(b, ','), bytes.TrimSpace(value)[1:]...)
			} else {
				b = append(b, '}')
			}
			out.Payload = b
		default:
			return out, fmt.Errorf("presence: operation %d sets participant %q to a non-object", op.Rev, id)
		}
	}
	return out, nil
}

// encoded is an event's wire form, shared through Event.Memo by every
// subscriber of a live event.
type encoded struct {
	frames []*router.Frame
	err    error
}

// encodeEvent turns a deltas or snapshot event into the seed's messages.
func encodeEvent(ev *syncd.Event) any {
	switch ev.Kind {
	case syncd.EventDeltas:
		p := deltasPayload{FromRev: uint64(ev.FromRev), ToRev: uint64(ev.ToRev), Operations: make([]Operation, 0, len(ev.Ops))}
		for _, op := range ev.Ops {
			o, err := ToOperation(op)
			if err != nil {
				return encoded{err: err}
			}
			p.Operations = append(p.Operations, o)
		}
		f, err := router.NewFrame(TypeDeltas, p)
		return encoded{frames: []*router.Frame{f}, err: err}
	case syncd.EventSnapshot:
		var frames []*router.Frame
		// The seed's REVISION_GAP means "too far behind the history": say
		// it for retention (and for a revision of another history), not
		// when the engine merely found the snapshot smaller than the
		// deltas.
		if g := ev.Gap; g != nil && g.Reason != syncd.GapSmaller {
			f, err := router.NewFrame(TypeRevisionGap, gapPayload{
				ExpectedRev:    uint64(g.ExpectedRev),
				ServerRev:      uint64(g.ServerRev),
				BufferFirstRev: uint64(g.BufferFirstRev),
				ResumeFrom:     uint64(g.ResumeFrom),
			})
			if err != nil {
				return encoded{err: err}
			}
			frames = append(frames, f)
		}
		// The document is the seed's participant map.
		f, err := router.NewFrame(TypeSnapshot, snapshotPayload{Rev: uint64(ev.Rev), Participants: ev.State})
		return encoded{frames: append(frames, f), err: err}
	}
	return encoded{}
}

// sinkFor returns the sink of s's subscription: it queues the seed's
// messages on s's connection. It runs on the engine's goroutines (see the
// package documentation) and never blocks.
func (a *App) sinkFor(s *session) syncd.Sink {
	return func(ev *syncd.Event) {
		switch ev.Kind {
		case syncd.EventDeltas, syncd.EventSnapshot:
			enc := ev.Memo(encodeEvent).(encoded)
			if enc.err != nil {
				a.log.Error("presence: cannot encode the meeting for a client", "rev", ev.ToRev, "err", enc.err)
				s.conn.Close(protocol.CloseInternalError, "the server cannot encode the meeting")
				return
			}
			for _, f := range enc.frames {
				// A full queue closes the connection (the router's
				// slow-consumer policy): the client reconnects and
				// catches up, so a failed send needs nothing here.
				if s.conn.SendFrame(f) != nil {
					return
				}
			}
		case syncd.EventResync:
			// The engine could not keep this subscriber current. The seed
			// has no message for that; a reconnect and a JOIN with its
			// revision brings the client back.
			s.conn.Close(protocol.CloseTryAgainLater, "resync: reconnect and JOIN with your last revision")
		}
		// EventPresence: the engine's presence is not used; the meeting's
		// participants are the document itself.
	}
}
