package syncd

import (
	"encoding/json"
	"sync"

	"github.com/deltasync/syncd/revision"
)

// EventKind says what an [Event] carries.
type EventKind uint8

const (
	// EventDeltas carries operations FromRev+1 … ToRev of Epoch, in order.
	// Only the answer to a subscription whose client is at the head has
	// no operations (FromRev == ToRev). In a catch-up (not Live), an
	// operation may stand for several consecutive ones (Op.FirstRev …
	// Op.Rev): the ops still cover FromRev+1 … ToRev contiguously.
	EventDeltas EventKind = iota + 1
	// EventSnapshot carries the whole document at Rev; Gap says why deltas
	// were not sent, when the subscriber asked for them.
	EventSnapshot
	// EventPresence carries presence changes (or, with Full, the whole
	// room) of the document.
	EventPresence
	// EventResync says the subscription has ended because the engine could
	// not keep it current (Reason); the subscriber is still consistent up
	// to the last revision it received, and should subscribe again from
	// there.
	EventResync
	// EventMessage carries a room message (Engine.PublishRoom): Message,
	// from the client From.
	EventMessage
)

// GapReason says why a catch-up was a snapshot instead of deltas.
type GapReason string

const (
	// GapRetention: the operations after the client's revision are no
	// longer held.
	GapRetention GapReason = "retention"
	// GapEpoch: the client's revision belongs to another history of the
	// document (deleted and re-created, or lost), or is ahead of it.
	GapEpoch GapReason = "epoch"
	// GapSmaller: the snapshot is smaller than the deltas would be.
	GapSmaller GapReason = "smaller"
)

// Gap explains a snapshot sent in place of deltas.
type Gap struct {
	Reason GapReason
	// ExpectedRev is the revision the subscriber had.
	ExpectedRev revision.Rev
	// ServerRev is the head the snapshot is at; ResumeFrom equals it.
	ServerRev  revision.Rev
	ResumeFrom revision.Rev
	// BufferFirstRev is the oldest revision the document's ring of recent
	// operations still holds (the store's log may reach further back).
	BufferFirstRev revision.Rev
}

// ResyncReason says why a subscription ended with EventResync.
type ResyncReason string

const (
	// ResyncStoreFailure: a write of the document failed and the document
	// was reloaded from the store.
	ResyncStoreFailure ResyncReason = "store_failure"
	// ResyncOverflow: the subscriber fell too far behind while joining.
	ResyncOverflow ResyncReason = "overflow"
)

// PresenceEntry is one client's presence in a document's room.
type PresenceEntry struct {
	ClientID string
	State    json.RawMessage
}

// Event is what a [Sink] receives. Events of live operations are shared by
// every subscriber of the document and must be treated as read-only;
// [Event.Memo] lets subscribers share work derived from one, such as its
// encoding.
type Event struct {
	Kind  EventKind
	Doc   string
	Epoch revision.Epoch

	// EventDeltas.
	FromRev, ToRev revision.Rev
	Ops            []*Op
	// Live is false for the events of a subscription's catch-up.
	Live bool

	// EventSnapshot: the document's State at Rev, and the Gap that
	// caused it, if any.
	Rev   revision.Rev
	State json.RawMessage
	Gap   *Gap

	// CatchUpDone marks the last event of a subscription's catch-up, which
	// also carries the client's watermark in AckedReqID ("" if none). It
	// is set on snapshots sent after a deletion as well.
	CatchUpDone bool
	AckedReqID  string
	// Outcomes, on the last catch-up event of a subscriber with a client
	// id, are what became of the client's most recent request ids at or
	// below AckedReqID (oldest first, at most revision.MaxOutcomes): what
	// a client needs to settle edits whose answers it lost, when the
	// catch-up is a snapshot that cannot show its own operations.
	Outcomes []revision.Outcome

	// EventPresence: clients that joined or changed, clients that left;
	// Full means Presence is the whole room.
	Presence []PresenceEntry
	Left     []string
	Full     bool

	// EventMessage: what the publisher passed to Engine.PublishRoom,
	// and the client id it came from ("" if none).
	Message any
	From    string

	// EventResync.
	Reason ResyncReason

	memoOnce sync.Once
	memo     any
}

// Memo returns the value make returns, calling it only on the first Memo
// call of this event. Subscribers of one document receive the same live
// event; the first to encode it for the wire stores the bytes here and the
// others reuse them. An event has one memo: all its users must agree on
// what it holds.
func (ev *Event) Memo(make func(*Event) any) any {
	ev.memoOnce.Do(func() { ev.memo = make(ev) })
	return ev.memo
}

// Sink receives a subscription's events. It is called in revision order,
// never concurrently for one subscription, with the document's delivery
// lock held: it must not block, and must not call the engine for the same
// document. Hand the event to a queue and return.
type Sink func(ev *Event)
