package syncd

import (
	"encoding/json"

	"github.com/deltasync/syncd/revision"
)

// OpKind says how an operation's payload is applied.
type OpKind string

const (
	// OpPatch is a JSON Patch (RFC 6902): a JSON array of operations.
	OpPatch OpKind = "patch"
	// OpMerge is a JSON Merge Patch (RFC 7396): a JSON object.
	OpMerge OpKind = "merge"
)

// Op is one committed operation of a document's history. Ops are immutable
// once committed: the engine shares them between its ring, the store and
// every subscriber, so nobody may modify one.
type Op struct {
	// Rev is the operation's revision within its document's epoch.
	Rev revision.Rev `json:"rev"`
	// Kind says how Payload applies.
	Kind OpKind `json:"type"`
	// Payload is the patch in compact JSON, exactly as applied.
	Payload json.RawMessage `json:"payload"`
	// ClientID is the client that submitted the edit ("" for edits made
	// from Go without one).
	ClientID string `json:"clientId,omitempty"`
	// ClientReqID is the client's request id for the edit ("" if none).
	ClientReqID string `json:"clientReqId,omitempty"`
	// Time is when the operation was committed, in Unix milliseconds.
	Time int64 `json:"ts"`
	// FirstRev, when set, says the operation stands for the consecutive
	// operations FirstRev … Rev combined into one (see compactOps): its
	// Payload has their effect, and ClientID and ClientReqID are empty
	// since they came from several edits; Time is the last one's. Only
	// catch-up events carry such operations; the ring, the store and live
	// events hold operations as committed, whose FirstRev is zero (it
	// means FirstRev = Rev).
	FirstRev revision.Rev `json:"firstRev,omitempty"`
}

// First returns the first revision op stands for: FirstRev, or Rev.
func (op *Op) First() revision.Rev {
	if op.FirstRev != 0 {
		return op.FirstRev
	}
	return op.Rev
}

// EncodedSize estimates the bytes the operation takes on the wire: its
// payload plus a fixed allowance for the other fields. Catch-up uses it to
// choose between deltas and a snapshot.
func (op *Op) EncodedSize() int {
	n := len(op.Payload) + len(op.ClientID) + len(op.ClientReqID) + opOverhead
	if op.FirstRev != 0 {
		n += firstRevOverhead
	}
	return n
}

// opOverhead is the size of an operation's JSON envelope without its
// variable fields: {"rev":…,"type":"patch","payload":,"clientId":"",
// "clientReqId":"","ts":…}.
const opOverhead = 80

// firstRevOverhead is the allowance for ,"firstRev":… of a combined
// operation.
const firstRevOverhead = 24
