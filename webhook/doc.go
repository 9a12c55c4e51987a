// Package webhook tells other services what happens to documents: a signed
// HTTP POST per event (document created, changed, deleted; a user joining
// or leaving a document's presence room) to each configured endpoint,
// delivered at least once, in order, across restarts.
//
// # Model
//
// A [Notifier] is the engine's [syncd.Observer]. Its observer methods only
// note what happened in memory (a map update under Notifier.mu) and wake
// the recorder, so a slow or dead endpoint never reaches the commit path.
//
// The recorder (one goroutine) turns notes into events in the outbox, a
// space of the store's [syncd.SideStore] written in transactions of its
// own: document changes debounced per document (Options.Debounce), each
// document's cursor (the epoch and revision last reported) moved in the
// same write, presence changes with the set of users reported present.
// One sender per endpoint delivers the outbox in order, retrying with
// exponential backoff and jitter, and the recorder trims what every
// endpoint has received.
//
// # Durability
//
// The outbox, the cursors, the present set and the endpoints' delivery
// cursors are durable with a durable store. Changes are never written on
// the commit path: at start, [Notifier.Start] compares every document in
// the store with its cursor and reports what the last run did not record.
// Users the last run reported present are reported left (reason
// "restart"). What a crash loses is only a presence change not yet
// recorded (within about 10 ms), with its leave.
//
// # Traps
//
//   - Start before the engine opens, Close after the engine closes and
//     before the store does: the recorder's last round writes to the store.
//   - Events may repeat (same id, same body): receivers deduplicate on the
//     id. Each retry is signed again with a new timestamp.
//   - An endpoint's identity is its Name: renaming it restarts its
//     deliveries from the oldest event still in the outbox.
package webhook
