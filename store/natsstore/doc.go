// Package natsstore is a [syncd.SharedStore] on NATS JetStream: the store
// of a syncd cluster, where every instance commits to, and reads from, one
// replicated log.
//
//	s, err := natsstore.New(ctx, nc, natsstore.Options{Replicas: 3})
//
// New creates the stream, or updates its configuration, the same way from
// every instance (so several may start at once), and checks what the store
// depends on: JetStream on the connection, and a max_payload that fits the
// largest message it writes ([MessageBytes]: a snapshot of the largest
// document, plus headers, watermarks and outcomes). The connection stays
// the caller's: Close does not close it.
//
// # Stream, subjects, keys
//
// One stream, named Prefix (default "syncd"), with three kinds of subject:
//
//	Prefix.log.<doc>     the document's log: one message per Commit that writes it
//	Prefix.snap.<doc>    its newest snapshot (one message; older ones rolled up)
//	Prefix.client.<id>   a client id's record (ClaimClient)
//
// Ids are encoded into one subject token each, reversibly: letters, digits
// and '-' stand for themselves, any other byte is '_' and two hex digits
// ("a.b/c" is a_2Eb_2Fc). Subject tokens cannot hold '.', '*', '>' or white
// space, and document ids hold '.', ':' and '/'. The stream has no limits
// by count, size or age: nothing leaves it but by an explicit purge or a
// rollup (Retention below). Storage is files; replicas and the
// de-duplication window are Options.
//
// Why no KV bucket for the client records: a KV bucket is a stream with one
// subject per key, and Create/Update are publishes conditional on the key's
// last sequence, which is exactly what ClaimClient does on
// Prefix.client.<id>; but nats.go's KV Get reads with a direct get that
// any replica may answer (CreateKeyValue forces allow_direct on), and a
// claim decided on a stale record could be granted wrongly when it changes
// nothing (and so is not checked by a conditional write). On the store's
// own stream the read is a leader read.
//
// # A log message
//
// The records of one document in one Commit (Create, Append, Decide,
// Delete, in order; snapshots go to their own subject) are framed into one
// message (frame.go: a version byte, then per record a kind byte and its
// fields as uvarints and length-prefixed bytes, so payloads come back byte
// for byte). Its headers summarise the document after it, so that Head,
// List and the conflict checks read one message, not the log:
//
//	Syncd-Epoch, Syncd-Head        epoch and head revision after the message
//	Syncd-Base                     head before it (0 if it creates the epoch)
//	Syncd-Epoch-Seq                stream sequence of the message that created the epoch
//	Syncd-Created, Syncd-Updated   Unix ms
//	Syncd-Deleted: 1               the document is absent after it
//	Syncd-Writer                   the writer's nonce (writer id and counter)
//	Syncd-Client, Syncd-Req        the client request, when the message decides exactly one (the id encoded like a token)
//	Nats-Expected-Last-Subject-Sequence   the condition (and so a link to the previous message)
//	Nats-Msg-Id                    the de-duplication key
//	Nats-Rollup: sub               when the message creates or deletes
//
// A revision is never a stream sequence: revisions live in the records and
// in Syncd-Head; sequences only say where a message is.
//
// # Commit: atomic per document
//
// Commit checks every record first (a malformed one fails the whole batch,
// and is not a conflict), groups the records by document and commits the
// documents concurrently (up to 256 publishes in flight, each a
// synchronous publish on its own goroutine: the same pipelining as
// asynchronous publishes, with one error path). For each document:
//
//  1. Its records are checked, in order, against the state this store
//     knows: a cached docState (last sequence, epoch, head, created,
//     updated, and the clients' watermarks and recent outcomes), replaced
//     only as a whole. Create needs the document absent; Append revision
//     head+1 of the same epoch; Append and Decide a client request above
//     the client's watermark (at or below it, another writer decided it,
//     or a later request: a Decide carries no revision, so this check is
//     what keeps an engine that decided from a copy behind this state
//     from adding a second, contradicting decision); Snapshot an existing
//     epoch at most at the head. Decide and Delete on an absent document
//     are no-ops and write nothing. If the check fails on a cached state,
//     the state is caught up with the log and checked again, so a stale
//     cache never refuses for good. A plan that would publish nothing (a
//     Delete or Decide left out as a no-op, or a Snapshot alone) is made
//     again on the log's current state first: without a message there is
//     no condition for the log to check, and a cache that still thinks the
//     document absent would otherwise acknowledge a Decide it never wrote.
//  2. The message is published with Nats-Expected-Last-Subject-Sequence =
//     the sequence of the document's last message as the state knows it.
//     JetStream's leader checks it before storing: if another writer
//     appended first, the answer is "wrong last sequence" (10071, or 10164
//     on replicated streams), which is ErrConflict; the state is then
//     caught up with the log, ready for the engine's retry. A message that
//     creates or deletes carries Nats-Rollup: sub, so that the same write
//     removes the earlier epoch's messages.
//  3. The snapshot, if the records hold one (the newest of the final
//     epoch), is written after the log message (Snapshots below).
//
// Commit returns nil, or a *syncd.PartialCommitError naming each failed
// document with its error: wrapping ErrConflict (another writer got there
// first), ErrOutcomeUnknown (below), ErrUnavailable (no stream answered),
// or another failure. The other documents' records are durable.
//
// # No ambiguous answers
//
// A publish whose acknowledgement is lost or late may still be stored.
// Commit never takes that for an answer:
//
//   - Every message has a Nats-Msg-Id that a retry repeats. A message that
//     decides exactly one client request by an Append (and creates
//     nothing) uses r:<subject>:<epoch seq>:<client>:<request>, so the same
//     request appended by another writer within the window is refused as a
//     duplicate; any other message uses w:<writer nonce>.
//   - On a timeout or a lost connection, the same message is sent again
//     (backing off up to 0.5 s), until an answer decides it or ctx ends.
//   - An answer "duplicate" names the sequence of the stored copy: the
//     store reads it, and its Syncd-Writer says whether it is this
//     writer's (success) or another's (the client request is already in
//     the log: ErrConflict).
//   - An answer "wrong last sequence" may be the retry of a message whose
//     first copy was stored (a single server checks the condition before
//     the duplicate). The store reads the first message after the expected
//     sequence: its Syncd-Writer says whether it is this writer's (success)
//     or another's (ErrConflict). Only that position can hold the message:
//     the condition allows no other. If the leader shows no message there
//     yet (a new leader still applying what was committed before it), the
//     answer is not taken: the message is sent again and the read repeated.
//   - Only when ctx ends before any of this decides does Commit answer with
//     an error wrapping ErrOutcomeUnknown (inside the PartialCommitError:
//     errors.Is on the batch's error does not see it, look at Failed); the
//     message may be in the log, and a Load tells.
//
// The de-duplication window (Options.Duplicates, default 2 minutes) only
// has to cover a retry, since the read-back settles the rest.
//
// # Reads
//
// A point read (a subject's last message, the first at or after a
// sequence, one sequence) is a $JS.API.STREAM.MSG.GET request, which only
// the stream leader answers, so it is at least as new as anything
// acknowledged before it: Head is one such read of the log's last message.
// A range read is a batched direct get (allow_direct is on), up to 256
// messages a round trip, which any replica may answer; it is checked, never
// trusted: it must reach the last sequence the leader named, and each
// message must name the one before it (its stored expected-last-sequence
// header). A replica that lags answers short and the rest is read again.
//
//   - Load: the log's last message and the snapshot (leader), then the
//     messages from the snapshot's start (or from the epoch's first
//     message, without a snapshot) to the last one. The first operation
//     the log still holds (Meta.First) comes from the epoch's first
//     remaining message (its Syncd-Base + 1). A purge or a new epoch
//     during the read is detected (a broken link) and the read starts
//     again. The state read is cached.
//   - Watermark, Outcomes: the cached state, caught up with the messages
//     after it (one leader read when nothing is new), or a rebuild.
//   - ReadOps: the last and the first message (epoch, head, ErrGone), then
//     a binary search over the stream sequences of the epoch for the
//     message holding revision after+1 (Syncd-Head grows along the log;
//     about log2 of the sequence span in leader reads), then a range read.
//   - List: the leader lists the stream's log subjects (a stream info
//     request with a subject filter: one request per ~100,000 documents,
//     and the whole list every call); the ids are decoded and sorted, and
//     each document returned costs two reads (last and first message). A
//     deleted document keeps its Delete message (so that followers see
//     it) and is skipped. Fine for an admin page or a maintenance command,
//     not a hot path.
//
// # Snapshots and watermarks
//
// A snapshot message holds the document's state at Rev, the epoch (and the
// sequence of its first message, which names the epoch instance even if an
// id is re-created with a reused epoch string), and FromSeq: the log
// message from which a rebuild reads, skipping operations up to Rev. It
// also holds the watermarks and recent outcomes of every client as of the
// messages before FromSeq, so Watermark and Outcomes are rebuilt from the
// snapshot and the tail alone. For the engine's snapshots (at the head,
// with the append they follow) FromSeq is the commit's own message and the
// watermarks are the state before it; a snapshot of an older revision
// replays the log up to where it passes that revision.
//
// It is written after the log message, conditional on the snapshot
// subject's last sequence and with a rollup, so only the newest stays;
// a stored snapshot of the same epoch at the same or a higher revision, or
// of a newer epoch, wins and ours is dropped. The snapshot is a cache of
// the log: if it cannot be written, the commit still succeeded (its
// records are durable), a Load replays a longer tail, and SnapshotsLost
// counts it.
//
// Horizon: a snapshot leaves out the clients whose last decision is older
// than Options.Horizon (default 90 days), so a document edited by many
// short-lived clients keeps a small snapshot. A client that returns after
// the horizon with an edit it sent before could have it applied again; and
// an instance that cached the document before the snapshot may still
// answer such a client's watermark until it reads the document anew.
//
// # Retention
//
// After a snapshot is stored, the document's log is purged explicitly
// (a purge request with the log subject and a sequence bound) once it
// holds more than RetainOps + RetainOps/16 operations: up to the message
// holding revision head-RetainOps+1, and never past the snapshot's FromSeq
// (the rebuild reads from it). No per-subject limit or age is ever set,
// so nothing can empty a subject. Creating or deleting rolls the subject
// up (the earlier epoch goes with the same write that ends it); the
// Delete message itself stays, so that a follower sees it.
//
// # Watch
//
// One ordered consumer per Store, on every log subject, started at the
// first Watch: it reads what the stream stored, in order, and recreates
// itself from the last sequence it delivered after a gap or a
// reconnection, so no stored message is missed (the stream's input
// subject would also carry refused publishes). Each message calls the
// watches of its document with the operations it holds (a Complete
// syncd.StoredChange when it only appended; an incomplete one for a
// create, a delete or a roll-up), decoded once for all of them; once the
// consumer is (re)started every watch is called once with an incomplete
// change, since what was stored before it started is not delivered.
// Calls come from the consumer's goroutine, one at a time; changed must
// not block, nor call its stop. A watchdog makes the consumer again when
// it stalls (messages pending, or the consumer gone, and nothing
// delivered at two checks in a row): the client's own recreation was
// once seen to stay silent for a minute after the consumer's node
// stopped. [Stats.WatchRestarts] counts those.
//
// # Metrics
//
// [Store.Stats] counts appends, conflicts, publishes sent again, read-backs
// that settled an outcome, unknown outcomes, lost snapshots and watch
// restarts, for the server's metrics.
//
// # Costs and traps
//
//   - Every instance's consumer receives every log message of the stream
//     whole, operations included (watch.go: a follow need not read them
//     back); only the messages of documents watched here are decoded.
//   - The cache holds up to 4,096 documents' states (watermarks included);
//     an evicted one is read again. Applying a message to a cached state
//     copies its client map: fine for documents with hundreds of clients.
//   - A document's records of one Commit travel in one message, so they
//     must fit in the server's max_payload (MessageBytes leaves 256 KiB
//     beside a document's size); a larger batch fails that document with
//     an error that is not a conflict. The engine's per-document batches
//     are an edit or a few, far below it.
//   - The store writes with the server's durability: syncd's embedded
//     nodes sync every write before acknowledging (sync_interval always);
//     an external NATS with the default sync interval does not.
package natsstore
