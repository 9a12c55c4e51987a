// Package storetest is the conformance suite of the [syncd.Store] contract:
// every store runs it, the in-memory one included, so that the engine can
// rely on the contract rather than on one implementation.
//
// A store's test calls [Run] (or [RunPersistent], for a store whose data
// survives a reopen) with a function that opens a fresh, empty store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, o storetest.Options) syncd.Store {
//			return memstore.New(memstore.Options{Retention: o.Retention})
//		})
//	}
//
// # Shared stores
//
// A store that other writers share (a [syncd.SharedStore], such as
// store/natsstore) runs Run's cases too, with two differences the suite
// makes by itself when the store implements the interface: batches are
// atomic per document (BatchIsAtomic expects a *syncd.PartialCommitError
// naming only the document whose records conflict, and the model applies
// the others' records), and a record (Append or Decide) of a client
// request at or below the client's watermark is a conflict, where a
// single-writer store takes it and leaves the watermark be (the model
// predicts either; WatermarkNeverDecreases, OutcomesRecorded and
// RandomBatches meet it). Its test also calls
// [RunShared] with two handles on one backend, for the multi-writer cases:
// racing appends (one winner per revision, the loser's records absent),
// a client request decided again through the other handle (appended or
// refused, the same one or an earlier one), Head and the reads
// of one handle seeing the other's commits, Watch told of them, Create and
// delete/re-create races agreeing on one epoch, partial commits, and a
// stale handle that catches up. Single-writer stores (memstore.New,
// boltstore) do not run them; memstore's shared mode (memstore.NewShared)
// runs both suites, as natsstore does.
//
// # How it checks
//
// Each subtest exercises one clause of the contract on its own store. The
// suite writes through a model, a small reference implementation of the
// contract that predicts whether each batch must succeed or fail (and with
// ErrConflict or not) and what the store must hold afterwards. After every
// subtest, in t.Cleanup, two checks run over every document the store
// lists: [Check], the invariants any store must keep whoever wrote it
// (contiguous revisions, a snapshot plus tail that replays to the head, …),
// and a comparison with the model (same documents, heads, operations,
// newest snapshot, head state and watermarks).
//
// Replaying uses package delta, so the suite's operations are real patches
// (JSON merge patches such as {"n":3,"k3":3}, and a few JSON Patch arrays)
// and its snapshots hold the state the model computed: a store that loses,
// reorders or mixes up data fails the replay, not only a revision count.
//
// # Traps
//
//   - Opener must return an empty store each time; the suite closes it.
//   - The suite does not predict exactly where retention trims (stores trim
//     in their own chunks); it checks that a log never loses an operation
//     newer than the newest snapshot, never holds fewer than Retention
//     operations while it has them, and is trimmed once it is well past
//     Retention behind a recent snapshot.
//   - Check reads every operation of every document: meant for test-sized
//     stores, and for a store no one writes to meanwhile.
package storetest
