// Package memstore is a [syncd.Store] held in memory: the reference
// implementation of the store contract, for tests, benchmarks and servers
// that need no durability.
//
// # Model
//
// Each document is a small struct in a map: its metadata, its operation log
// as a slice (element i holds revision First+i), its newest snapshot and its
// client watermarks. One RWMutex guards the map; readers (Load, ReadOps,
// Watermark, List) share it and copy what they return, so a caller never
// holds memory the store will change.
//
// # Atomic batches
//
// Commit builds the batch's effect in a private overlay (copies of the
// documents the batch touches, made on first touch) while readers keep
// running, then swaps the overlay in under the write lock. A record that
// fails its check (wrong revision or epoch, creating a document that exists,
// a malformed record) discards the overlay, so either every record of a
// batch is visible or none is. Later records of a batch see the effects of
// earlier ones, because they read the overlay first.
//
// # What is copied
//
// Operations are stored as given, by pointer: a committed [syncd.Op] is
// immutable by contract, and the engine shares it with its ring and its
// subscribers anyway. Snapshot states are copied in and out, because a
// json.RawMessage is a mutable byte slice owned by its caller.
//
// # Shared mode
//
// [NewShared] gives one log that several engines write at once, each
// through its own [Handle], a [syncd.SharedStore]: commits are atomic per
// document (a [*syncd.PartialCommitError] names the documents that
// failed), a client request already decided is a conflict, a delete of a
// document no longer in the epoch the handle last learnt is a conflict
// (so two writers that delete and re-create it at once agree on one
// epoch), Head reads the committed head and Watch calls back after each
// commit of a document. It is the test double of store/natsstore for the
// engine's multi-writer tests, and passes storetest.RunShared.
//
// # Traps
//
//   - Commit is not meant to be concurrent: the engine issues one at a time
//     (group commit). A second concurrent Commit is serialised by a mutex
//     rather than corrupting anything, but it waits.
//   - "Durable" means "until the process exits": nothing survives a restart.
//   - Retention trims a document's log only up to its newest snapshot. A
//     document that never gets a snapshot keeps every operation; the engine
//     writes the snapshots.
package memstore
