package webhook

import (
	"encoding/json"
	"time"

	"github.com/deltasync/syncd/revision"
)

// Event types.
const (
	TypeDocumentChanged = "document.changed"
	TypeDocumentCreated = "document.created"
	TypeDocumentDeleted = "document.deleted"
	TypePresenceJoined  = "presence.joined"
	TypePresenceLeft    = "presence.left"
)

// AllTypes lists every event type, in the order the docs list them.
var AllTypes = []string{TypeDocumentChanged, TypeDocumentCreated, TypeDocumentDeleted, TypePresenceJoined, TypePresenceLeft}

// Event is the JSON body of a delivery. Receivers decode it with
// encoding/json.
type Event struct {
	// ID is a ULID, unique per event and kept across retries.
	ID   string `json:"id"`
	Type string `json:"type"`
	// Time is when the event was recorded (not when it is sent), UTC with
	// millisecond precision.
	Time time.Time `json:"timestamp"`
	Doc  string    `json:"doc"`

	// Epoch is the document's history (document.*): a deletion and
	// re-creation starts a new one, with revisions from 1 again.
	Epoch revision.Epoch `json:"epoch,omitempty"`
	// Change (document.changed only) is the revision range committed.
	Change *Change `json:"change,omitempty"`

	// UserID (presence.*) is the authenticated user (the JWT's sub) who
	// joined the document's presence room with a first client, or left it
	// with the last.
	UserID string `json:"userId,omitempty"`
	// AuthorID (presence.*, without authentication) names the client that
	// joined or left by its author id, the public digest of its client id
	// that other clients see (PROTOCOL.md §2.2): a client id is a
	// credential and never leaves the server.
	AuthorID string `json:"authorId,omitempty"`
	// Reason (presence.left) is "restart" when the server reports as
	// left the clients present when it stopped without saying so.
	Reason string `json:"reason,omitempty"`
}

func (ev *Event) encode() []byte {
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err) // only strings, numbers and a time: cannot fail
	}
	return b
}

// Change is what a document.changed event reports: the revisions FromRev+1
// … ToRev of the event's epoch were committed since the document's
// previous event. Consecutive events of a document have contiguous ranges
// (the next FromRev is this ToRev) within an epoch.
type Change struct {
	FromRev revision.Rev `json:"fromRev"`
	ToRev   revision.Rev `json:"toRev"`
}
