package syncd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/deltasync/syncd/revision"
)

// Store is the durable home of documents: their metadata, operation logs,
// snapshots and client watermarks (and client records, clients.go). The
// engine is its only writer; it serialises the writes of each document and
// batches writes from many documents into one [Store.Commit] call (group
// commit), so a Store needs no ordering logic of its own beyond what each
// method states.
//
// Every method may be called from many goroutines at once, except that the
// engine never issues two Commit calls concurrently. Implementations:
// store/boltstore (bbolt, the default), store/memstore (tests, benchmarks);
// store/storetest is the conformance suite every implementation must pass.
//
// Errors: [ErrNotFound] and [ErrGone] are answers, not failures. Any other
// error is a failure of the store; an error that wraps [ErrUnavailable] is
// transient (the engine retries or reports it as retryable), any other is
// treated as permanent for the call that returned it.
type Store interface {
	// Load returns what the store holds for doc: its metadata, its newest
	// snapshot, every operation after that snapshot in revision order (so
	// that replaying them on the snapshot gives the head), and nothing else.
	// A document that was never created, or was deleted, is [ErrNotFound].
	Load(ctx context.Context, doc string) (*StoredDoc, error)

	// ReadOps returns the operations of doc's epoch with revision greater
	// than after, in order, at most limit of them, and never beyond the
	// head. An empty result means after is the head (or beyond it: the
	// caller, which knows the head, tells the two apart). If the operation
	// after+1 was trimmed by retention it returns [ErrGone]; if the
	// document does not exist or its epoch is not epoch, [ErrNotFound].
	// Limit 0 reads nothing and only answers those two questions: whether
	// the operations after after are still held (a catch-up too far behind
	// for deltas asks it to name its reason). A negative limit is an error.
	ReadOps(ctx context.Context, doc string, epoch revision.Epoch, after revision.Rev, limit int) ([]*Op, error)

	// Watermark returns the request id watermark of clientID in doc, or the
	// zero Watermark if the client has none (or the document is absent).
	Watermark(ctx context.Context, doc, clientID string) (revision.Watermark, error)

	// Outcomes returns what became of clientID's most recent decided
	// request ids in doc, oldest first: at most [revision.MaxOutcomes], the
	// newest ones. Each [AppendRecord] whose op carries the client's ids adds a
	// committed outcome (the op's revision), each [DecideRecord] a refused one
	// (its Code), in the same atomic step that moves the watermark, so the
	// newest outcome is always the watermark's. A client with none, or an
	// absent document, gives an empty result; [DeleteRecord] removes them with
	// the watermarks (and a new epoch starts without any).
	Outcomes(ctx context.Context, doc, clientID string) ([]revision.Outcome, error)

	// Commit applies every record of batch, in order, as one atomic and
	// durable step: when it returns nil, all records survive a crash of the
	// process and of the machine; when it returns an error, none of them
	// was applied. (A store that cannot make a batch atomic across
	// documents, such as one built on Redis, must at least make each
	// record atomic and report any failure; the engine then reloads the
	// documents of the batch.)
	//
	// Records are checked against the stored state as they are applied:
	// an [AppendRecord] whose revision is not head+1, or whose epoch is not the
	// document's, fails the whole batch with an error wrapping
	// [ErrConflict]. That check is what lets several servers share one
	// store safely. An Append or [SnapshotRecord] to a document that does not
	// exist, and a Snapshot of another epoch or beyond the head, fail the
	// same way. A malformed record (no field or several set, an Append
	// without an Op) fails the batch with an error that does not wrap
	// ErrConflict.
	Commit(ctx context.Context, batch []Record) error

	// ClaimClient decides a connection attempt's claim on a client id and
	// records it, in one atomic and durable step (clients.go): it reads the
	// client's record, decides with [ClientRecord.Check], and when the
	// claim is granted and changes the record, stores the new record
	// before it returns. It returns the record as it stands afterwards,
	// and [ErrClientOwned] or [ErrStaleAttempt] (answers, not failures)
	// for a refused claim, which changes nothing. Records are never
	// deleted, not even with a document. Concurrent calls are serialised
	// (each decides against the record the one before it left), and may
	// share one write (group commit), unlike Commit's callers.
	ClaimClient(ctx context.Context, claim ClientClaim) (ClientRecord, error)

	// List returns the metadata of up to limit documents whose ids are
	// greater than after, in id order.
	List(ctx context.Context, after string, limit int) ([]DocMeta, error)

	// Close releases the store. No method may be called after it.
	Close() error
}

// Record is one write of a Commit batch. Exactly one of its fields is set.
type Record struct {
	Create   *CreateRecord
	Append   *AppendRecord
	Decide   *DecideRecord
	Snapshot *SnapshotRecord
	Delete   *DeleteRecord
}

// Check reports an error unless exactly one of the record's fields is
// set, as every Record must be; each store checks it before acting on a
// record.
func (r Record) Check() error {
	n := 0
	for _, set := range [...]bool{r.Create != nil, r.Append != nil, r.Decide != nil, r.Snapshot != nil, r.Delete != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%d fields set, want exactly 1", n)
	}
	return nil
}

// Doc is the document r writes ("" for a record with no field set, which
// fails [Record.Check]).
func (r Record) Doc() string {
	switch {
	case r.Create != nil:
		return r.Create.Doc
	case r.Append != nil:
		return r.Append.Doc
	case r.Decide != nil:
		return r.Decide.Doc
	case r.Snapshot != nil:
		return r.Snapshot.Doc
	case r.Delete != nil:
		return r.Delete.Doc
	}
	return ""
}

// RecordApplier is what a store does with each kind of record, for
// [Record.ApplyTo].
type RecordApplier interface {
	ApplyCreate(*CreateRecord) error
	ApplyAppend(*AppendRecord) error
	ApplyDecide(*DecideRecord) error
	ApplySnapshot(*SnapshotRecord) error
	ApplyDelete(*DeleteRecord) error
}

// ApplyTo checks r ([Record.Check]; its error wraps ErrMalformedRecord)
// and hands its one record to the method of a for its kind: the one
// dispatch every store shares.
func (r Record) ApplyTo(a RecordApplier) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformedRecord, err)
	}
	switch {
	case r.Create != nil:
		return a.ApplyCreate(r.Create)
	case r.Append != nil:
		return a.ApplyAppend(r.Append)
	case r.Decide != nil:
		return a.ApplyDecide(r.Decide)
	case r.Snapshot != nil:
		return a.ApplySnapshot(r.Snapshot)
	default:
		return a.ApplyDelete(r.Delete)
	}
}

// ErrMalformedRecord marks a record the Store contract does not allow (no
// field or several set): a writer's bug, which fails a Commit without
// being a conflict.
var ErrMalformedRecord = errors.New("syncd: malformed record")

// CreateRecord creates a document, empty at revision 0 of Epoch. Creating a
// document that exists fails the batch with [ErrConflict].
type CreateRecord struct {
	Doc   string
	Epoch revision.Epoch
	Time  int64 // Unix milliseconds
}

// AppendRecord adds Op to the log of Doc and makes it the head. When the op
// carries a client id and request id, the client's watermark is advanced to
// that id in the same step, so that an operation and the decision to apply
// it are durable together.
type AppendRecord struct {
	Doc   string
	Epoch revision.Epoch
	Op    *Op
}

// DecideRecord records a refused request: it advances the watermark of ClientID
// in Doc to ReqID (or leaves it, if already higher) without an operation,
// and records the refusal's Code among the client's outcomes (see
// [Store.Outcomes]). It is a no-op for a document that does not exist.
type DecideRecord struct {
	Doc      string
	ClientID string
	ReqID    string
	// Code is the refusal's engine code name ([Code.String]); empty reads
	// as "refused" with no reason kept.
	Code string
}

// SnapshotRecord stores the state of Doc at Rev (which must be a revision the
// document has reached, at most its head after the records before it). A
// store keeps at least the newest snapshot (the highest Rev, whatever the
// order they were written in), and may trim operations up to it
// (retention, see each store's options), but never an operation newer than
// its newest snapshot.
type SnapshotRecord struct {
	Doc   string
	Epoch revision.Epoch
	Rev   revision.Rev
	State json.RawMessage
}

// DeleteRecord removes a document with its log, snapshots and watermarks.
// Deleting an absent document is a no-op.
type DeleteRecord struct {
	Doc string
}

// DocMeta is a document's metadata.
type DocMeta struct {
	Doc   string         `json:"doc"`
	Epoch revision.Epoch `json:"epoch"`
	// Head is the newest revision.
	Head revision.Rev `json:"head"`
	// First is the oldest revision still in the log (Head+1 when the log
	// holds none, e.g. after retention trimmed it up to the snapshot).
	First revision.Rev `json:"first"`
	// Created and Updated are Unix milliseconds: the Time of the Create
	// record, and the Time of the newest operation (Created before any).
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
}

// StoredDoc is what [Store.Load] returns.
type StoredDoc struct {
	Meta DocMeta
	// SnapshotRev and SnapshotState are the newest snapshot; a document
	// with none has SnapshotRev 0 and SnapshotState nil (the empty object).
	SnapshotRev   revision.Rev
	SnapshotState json.RawMessage
	// Tail holds the operations SnapshotRev+1 … Meta.Head, in order.
	Tail []*Op
}

// TrimStart is the retention rule the stores share, for a log holding
// first … head whose newest snapshot is at snapRev: it returns the new
// first revision and true when the log should be trimmed to keep about
// retention operations (negative: keep all). It waits until the log
// exceeds retention by a sixteenth, so that trimming is one bulk step per
// retention/16 appends instead of one delete per append, and it never goes
// past snapRev+1, so that the newest snapshot plus the log always rebuild
// the head.
func TrimStart(first, head, snapRev revision.Rev, retention int) (revision.Rev, bool) {
	if retention < 0 || head < first {
		return 0, false
	}
	keep := uint64(retention)
	if uint64(head-first)+1 <= keep+keep/16 {
		return 0, false
	}
	start := min(head-revision.Rev(keep)+1, snapRev+1)
	return start, start > first
}
