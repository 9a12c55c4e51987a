// Package syncd is the sync engine: it keeps shared JSON documents, orders
// their edits, makes them durable before acknowledging them, answers "what
// did I miss since revision N", and fans committed operations out to
// subscribers. It has no network code: package server puts it on the wire,
// and a Go program can embed it directly.
//
// # Vocabulary
//
// A document is a JSON object named by an id (see [ValidateDocID]). Every
// committed change is an [Op] with the next revision of the document's
// history; a history is named by an epoch (package revision), which changes
// when the document is deleted and created again. An [Edit] is a request to
// change a document: a JSON Patch or JSON Merge Patch, perhaps with the
// revision it was based on, and the client's id and request id, which make
// it idempotent. A [Store] holds documents durably; the engine is its only
// writer, except on a [SharedStore] (a cluster's log), where it is one
// writer among several.
//
// # Guarantees
//
//   - Total order: revisions of a document are 1, 2, 3, … with no gaps,
//     and every subscriber sees operations in that order.
//   - Durable before acknowledged: [Engine.Commit] returns, and
//     subscribers receive an operation, only after the store's Commit for
//     it returned (for bbolt: fsynced).
//   - Exactly once: an edit whose (client id, request id) is at or below
//     the client's watermark is never applied again; the watermark is
//     written with the operation, or with the refusal, in one record.
//   - No partial history: [Engine.Subscribe] delivers every operation
//     after the subscriber's revision, or a snapshot with a [Gap] saying
//     why, then every later operation, with no gap and no duplicate.
//   - One stream per subscription: a document's operations, presence
//     changes ([Engine.SetPresence]) and room messages
//     ([Engine.PublishRoom]) reach a subscriber through its one [Sink],
//     under the document's delivery lock, so every subscriber sees them
//     interleaved in the same order.
//
// # How a commit flows
//
// Under the document's lock the engine checks the edit (watermark, epoch,
// policy), applies it to the in-memory state, assigns the revision, pushes
// it to the document's ring of recent operations and queues its records
// for the committer — and releases the lock. The committer goroutine writes
// everything queued, from every document, in one [Store.Commit] (group
// commit: one fsync for many edits; before it takes a batch it may wait,
// up to about one commit, for clients expected to send their next edit
// within a few commits, so that they share it: [Options.GroupCommitWait],
// gather.go), then advances each document's durable
// revision, delivers the operations to subscribers (each batch's authors
// first: their echo is their acknowledgement), and wakes the committers. The lock is never held across store I/O. A failed write
// drops the documents involved from memory (their state ran ahead of the
// store); their subscribers get [EventResync] and rejoin, and nothing
// that was not durable was ever acknowledged or delivered.
//
// # Memory
//
// A document is loaded on first use and unloaded when idle (no subscribers,
// presence or writes in flight): after [Options.IdleTimeout], or sooner when
// loading another would exceed [Options.MaxLoadedDocs] or
// [Options.MaxLoadedBytes], least recently used first. When every loaded
// document is in use, a call that needs one more fails with CodeExhausted.
// A document's ring grows with its operations, so one nobody edits costs
// about a kilobyte or two.
//
// # Traps
//
//   - A [Sink] runs with the document's delivery lock held: it must not
//     block or call the engine for the same document.
//   - Ops and live Events are shared between subscribers: never modify them.
//   - The Validate hook runs under the document's lock: keep it fast.
//   - The engine does not own the store: close the engine, then the store.
//   - A patch, and a presence state, are kept and sent compact: white space
//     outside strings is removed (found with internal/jsonkit, the JSON
//     toolkit the engine shares with delta and protocol), so their bytes
//     may differ from what the caller passed, never their value.
package syncd
