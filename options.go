package syncd

import (
	"context"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/deltasync/syncd/delta"
)

// Options configure an [Engine]. The zero value is ready to use: every field
// documents its default.
type Options struct {
	// RingSize is how many recent operations each loaded document keeps in
	// memory for catch-up and rebase checks. Default 1024. It also bounds
	// the operations of one document waiting for their fsync: a committer
	// waits when half the ring is not yet durable.
	RingSize int

	// SnapshotInterval is how many operations pass between the snapshots
	// the engine writes to the store. Default 1000. Loading a document
	// replays at most this many operations.
	SnapshotInterval int

	// MaxDocSize is the largest encoded size of a document, in bytes. An
	// edit that would make it larger is refused with CodeTooLarge.
	// Default 1 MiB.
	MaxDocSize int

	// MaxDocDepth is the deepest a document may nest (delta.Depth: {} is
	// 1, {"a":{}} is 2). An edit that would put a value deeper is refused
	// with CodeInvalid (Limit LimitDocDepth). Default 256: it leaves
	// room for the envelope that carries a document inside the
	// protocol's 512 levels and the store's 10,000, so that every
	// document an edit makes can be sent and reloaded.
	MaxDocDepth int

	// MaxPatchOps is the most operations one JSON Patch may have (a merge
	// patch counts as one). A longer patch is refused with CodeInvalid
	// (Limit LimitPatchOps) before it is applied. Default 1000. Each
	// operation may copy or compare a value as large as the document, so
	// this bounds the work one edit holds the document's lock for.
	MaxPatchOps int

	// MaxPatchWork bounds the work of one edit: the encoded bytes of the
	// document's values it removes, replaces, copies or moves deeper
	// (each must be measured, copied or walked). An edit that would do
	// more is refused with CodeInvalid (Limit LimitPatchWork) at the
	// operation that passes it. Default 2 × MaxDocSize: an edit may
	// replace or restructure the whole document, but not copy half of it
	// a thousand times while holding the document's lock. It also bounds
	// memory: the values an edit removes stay in its undo log until it is
	// decided, and in memory a document of small objects is tens of
	// times its encoded size.
	MaxPatchWork int

	// CatchUpPage is the most operations one store read asks for: a
	// catch-up reads the store's operations in pages of this many (it is
	// delivered whole, as one event), and it is Engine.ReadOps's limit
	// when the caller gives none. Default 512.
	CatchUpPage int

	// Policies chooses the conflict policy by document-id prefix: the
	// longest matching prefix wins; documents no prefix matches use
	// PolicyRebase.
	Policies map[string]Policy

	// Validate, if set, is called for every edit after it has been applied
	// in memory and before it is committed, with the document as it would
	// become. Returning an error refuses the edit (an *Error keeps its
	// code; any other error refuses with CodeRejected) and the document is
	// left as it was. It runs under the document's lock: keep it fast, do
	// no I/O, and do not modify the state or call into the engine.
	Validate func(ctx context.Context, v *Validation) error

	// MaxRoomPresenceBytes bounds a document's presence room: the sum,
	// over its clients, of each presence entry's size (its state, its
	// client id and PresenceEntryOverhead), about the size of the room's
	// full PRESENCE message. A SetPresence that would take the room past
	// it is refused with ErrRoomFull (CodeTooLarge). Default 1 MiB;
	// negative: no bound.
	MaxRoomPresenceBytes int

	// IdleTimeout is how long a document with no subscribers, presence or
	// writes stays in memory. Default 1 minute.
	IdleTimeout time.Duration

	// MaxLoadedDocs is the most documents kept in memory at once. Loading
	// one more at the limit first unloads idle documents (no subscribers,
	// presence or writes in flight, unused for a second), the least
	// recently used first, before IdleTimeout would; if every loaded
	// document is in use, the call that needed the load is refused with
	// CodeExhausted. Default DefaultMaxLoadedDocs; negative: no limit.
	MaxLoadedDocs int

	// MaxLoadedBytes bounds the loaded documents' estimated memory the
	// same way: each is charged its encoded size, the encoded size of the
	// operations in its ring, and 2 KiB for the rest (the decoded state
	// takes a small multiple of its encoded size, so the heap is some
	// multiple of this). A load is refused when the total is at the limit
	// and no idle document can be unloaded. Default
	// DefaultMaxLoadedBytes (256 MiB); negative: no limit.
	MaxLoadedBytes int64

	// ObserveCommit, if set, is called by the committer after every
	// Store.Commit with the number of records written, how long the call
	// took (with bbolt, mostly the fsync) and its error. Metrics use it.
	// It must not block.
	ObserveCommit func(records int, took time.Duration, err error)

	// GroupCommitWait is the longest the committer waits, before a
	// store commit, for the clients it expects to send their next edit
	// soon: those whose edits were just acknowledged and who came back
	// quickly last time, so that their edits join this commit rather
	// than wait for it to end (gather.go). Zero: about as long as a
	// commit takes on average, between 50 µs and 2 ms. Negative: never
	// wait. A lone writer, and clients slower than a few commits, are
	// never waited for. On a shared store, whose commits are replicated
	// appends, the average is capped at 20 ms instead.
	GroupCommitWait time.Duration

	// Observer, if set, is told of every durable creation, deletion and
	// operation, and of clients joining and leaving presence rooms
	// (observer.go). It must not block. Default none.
	Observer Observer

	// Forwarder, if set, lets the engine send the edits of a document
	// contended by several engines on a shared store to the one engine
	// that decides them (forward.go). Default none: every edit is decided
	// here. A forwarded edit is validated (Validate) on the engine that
	// decides it, under that engine's context: values the caller's
	// context carried here do not travel with it.
	Forwarder Forwarder

	// ForwardHold is how long a document stays in forward mode after its
	// last conflict (here or announced) or the home's last reply saying
	// that the document is written through another instance too; on the
	// home, how long a write through one source counts as contention
	// for the others. Default DefaultForwardHold (5 s).
	ForwardHold time.Duration

	// Now returns the current time. Default time.Now.
	Now func() time.Time

	// Logger receives the engine's logs. Default slog.Default().
	Logger *slog.Logger
}

// DefaultMaxLoadedDocs is Options.MaxLoadedDocs's default. A loaded
// document nobody edits costs about 1–2 KB of heap, so 10,000 of them are
// some tens of megabytes; documents that are large (up to MaxDocSize each)
// or have full rings need a lower limit chosen by the operator.
const DefaultMaxLoadedDocs = 10000

// DefaultMaxLoadedBytes is Options.MaxLoadedBytes's default: room for the
// default count of documents nobody edits (2 KiB each) many times over, or
// for a few hundred documents near the default MaxDocSize.
const DefaultMaxLoadedBytes = 256 << 20

// Validation is what a validation hook sees.
type Validation struct {
	Doc string
	// Edit is the edit, its Patch in compact form (the bytes the
	// operation will carry). On a store shared with other writers the
	// hook may see one edit more than once: a conflict with another
	// writer's commit decides it again.
	Edit *Edit
	// State is the document as it would be after the edit: decoded JSON
	// (map[string]any at the root; numbers are json.Number). Read only.
	State any
	// Paths are the places the edit touched, as JSON Pointers ("" is the
	// whole document). A hook that checks only what changed uses them,
	// together with Checked.
	Paths delta.PathSet
	// Checked is set when the hook accepted this document's whole state
	// before (since it was loaded or last reset): the parts outside Paths
	// are then as the hook last saw them. When it is false the hook
	// must check the whole document: nothing says the rest is valid (it
	// was stored before the hook existed, or the hook changed since).
	Checked bool
}

// Policy decides what happens to an edit whose base revision is behind the
// document's head.
type Policy uint8

const (
	// PolicyRebase applies such an edit unless an operation committed
	// after its base revision touched an overlapping path; then it is
	// refused with CodeConflict. An edit without a base is applied.
	PolicyRebase Policy = iota
	// PolicyLWW always applies edits in arrival order (last writer wins).
	PolicyLWW
	// PolicyStrict requires a base revision equal to the head.
	PolicyStrict
)

// ParsePolicy parses "rebase", "lww" or "strict".
func ParsePolicy(s string) (Policy, bool) {
	switch s {
	case "rebase":
		return PolicyRebase, true
	case "lww":
		return PolicyLWW, true
	case "strict":
		return PolicyStrict, true
	}
	return 0, false
}

// String names the policy.
func (p Policy) String() string {
	switch p {
	case PolicyLWW:
		return "lww"
	case PolicyStrict:
		return "strict"
	}
	return "rebase"
}

func (o *Options) withDefaults() Options {
	c := *o
	if c.RingSize <= 0 {
		c.RingSize = 1024
	}
	if c.SnapshotInterval <= 0 {
		c.SnapshotInterval = 1000
	}
	if c.MaxDocSize <= 0 {
		c.MaxDocSize = 1 << 20
	}
	if c.MaxDocDepth <= 0 {
		c.MaxDocDepth = 256
	}
	if c.MaxPatchOps <= 0 {
		c.MaxPatchOps = 1000
	}
	if c.MaxPatchWork <= 0 {
		c.MaxPatchWork = 2 * c.MaxDocSize
	}
	if c.CatchUpPage <= 0 {
		c.CatchUpPage = 512
	}
	if c.MaxRoomPresenceBytes == 0 {
		c.MaxRoomPresenceBytes = 1 << 20
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = time.Minute
	}
	switch {
	case c.MaxLoadedDocs == 0:
		c.MaxLoadedDocs = DefaultMaxLoadedDocs
	case c.MaxLoadedDocs < 0:
		c.MaxLoadedDocs = math.MaxInt
	}
	switch {
	case c.MaxLoadedBytes == 0:
		c.MaxLoadedBytes = DefaultMaxLoadedBytes
	case c.MaxLoadedBytes < 0:
		c.MaxLoadedBytes = math.MaxInt64
	}
	if c.ForwardHold <= 0 {
		c.ForwardHold = DefaultForwardHold
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// policyFor returns the policy of a document id: longest prefix wins.
func (o *Options) policyFor(doc string) Policy {
	best, bestLen := PolicyRebase, -1
	for prefix, p := range o.Policies {
		if len(prefix) > bestLen && strings.HasPrefix(doc, prefix) {
			best, bestLen = p, len(prefix)
		}
	}
	return best
}
