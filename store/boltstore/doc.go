// Package boltstore is the default [syncd.Store]: documents, their
// operation logs, snapshots and client watermarks in one bbolt file.
//
// # Model
//
// A durable acknowledgement costs one sync of a write-ahead log, not a
// bbolt transaction. [Store.Commit] checks the batch against the
// documents' state, appends it to the log as one checksummed,
// sequence-numbered record, fdatasyncs the log and returns: the batch is
// durable. A background applier then writes the batches that gathered in
// the meantime (up to [Options.ApplyInterval], default 200 ms, or at once
// when someone waits) to bbolt in one read-write transaction, which also
// records the seq of the newest batch it holds ("walApplied" in info). The
// engine does group commit (it batches the writes of many documents into
// one Commit, forms the next batch while one is in Commit, and waits
// briefly for clients it expects back within a commit's time, so that
// clients in a closed loop share one sync instead of splitting into
// cohorts that each wait for the other's: the root package's gather.go),
// so one log sync covers a whole batch and the store needs no queue of
// its own in front of the log.
//
// Why a log at all: bbolt syncs twice per transaction (its pages, then its
// meta page), on a file whose size and block map change, so that each
// sync also commits the file system's journal; an acknowledgement cost
// four to eight times one fdatasync of 4 KiB. The log costs one write and
// one fdatasync of a segment that is already written (wal_os.go), and
// the bbolt transactions, now a few a second and large, are off the path
// of every acknowledgement.
//
// Why the applier syncs bbolt: a bbolt transaction without its sync may
// overwrite pages that the last synced transaction still uses (bbolt
// reuses pages freed by earlier transactions without waiting for a sync),
// so after a power loss the file could be neither the old state nor the
// new one, and no log replay repairs that. The applier's transactions
// therefore sync as bbolt always did; they are few and off the
// acknowledgement's path, so the sync costs nothing the client waits for.
//
// The guarantees:
//
//   - Durable before acknowledged: Commit returns nil only after the
//     log's fdatasync. A failed write or sync of the log breaks the store
//     (every later Commit fails; restart recovers from the log), because
//     after a failed sync what the disk holds is unknown.
//   - Reads see everything acknowledged: Load, ReadOps, Watermark and
//     Outcomes of a document first wait until bbolt holds every batch logged before the
//     read began that touched the document (a map of document → newest
//     pending seq), and List and [Store.Checkpoint] wait for every batch
//     logged before them. A waiting read makes the applier run at once,
//     so the wait is one bbolt transaction, and only for documents with
//     writes in the last few milliseconds.
//   - Conflicts are still reported by Commit: it decides each record as
//     the writer would (wal_check.go), against the documents' state as the
//     log has it (a small map of the documents with batches not yet
//     applied, and bbolt for the rest), so a batch that would fail in
//     bbolt is refused before it is logged and the applier only applies
//     batches that cannot fail short of a broken disk (which breaks the
//     store, as above).
//   - Open replays the log: it applies, in one transaction, every record
//     after walApplied, so anything that opens the store (the server, a
//     backup or compaction command) sees what the log holds. Close
//     applies what is queued. [OpenReadOnly] (the maintenance commands)
//     first opens the store read-write when the log holds records the file
//     lacks, so that it replays them. [Store.Backup] checkpoints first;
//     anything else that reads the bbolt file of an open store directly
//     must call [Store.Checkpoint] first. A restore removes the replaced
//     database's log ([RemoveLogFiles]).
//
// The log (wal.go) is two segment files beside the bbolt file,
// <path>-wal.0 and -wal.1 ([LogFiles]). Each record is length, CRC-32C,
// seq and the batch (wal_batch.go: one encoder and decoder for every
// record kind, with a kind byte). When the segment being written passes
// [Options.LogSegmentBytes] and every record of the other segment is
// applied, writing moves to the start of the other one: that is the log's
// truncation, and it costs nothing. A reused segment still holds older
// records past the newest ones; a reader follows each segment's records
// while their checksums hold and their seqs follow on, so stale records
// (lower seqs) end the chain and are never read as valid. The checksum
// includes a random id kept in the bbolt file, so a segment left from
// another database is never read as this one's.
//
// Recovery: a record that is cut short or fails its checksum at the end
// of the log is an unfinished write (the Commit that wrote it never
// returned) and ends the log. A damaged record followed by a valid newer
// one, or records that skip seqs, mean acknowledged records are
// unreadable: Open fails with an error that says so rather than starting
// without them.
//
// Bbolt transactions: Load, ReadOps, Watermark and List are each one read
// transaction; the applier's transaction, ClaimClient's (clients.go) and
// SideWrite's (sidestore.go) are the only writers (and RenewEpochs, a
// maintenance command, on a closed store).
//
// # Layout (version 2)
//
// Top-level buckets, one per purpose, so that each read touches only the
// kind of data it needs:
//
//	info     "layout" → 0x02, "journalNext" → seq   layout version; see journal.go
//	meta     doc → meta                             one row per live document
//	snap     doc → snapshot                         the newest snapshot only
//	journal  seq → doc + run                        the newest operations of all documents
//	ops      doc → bucket { rev → run }             each document's log
//	marks    doc → bucket { clientID → mark }       request-id watermarks
//	outcomes doc → bucket { clientID → outcomes }   each client's recent decisions (outcomes.go)
//	clients  clientID → record                      owner, newest attempt (clients.go)
//	side     space → bucket { key → value }         server state beside the documents, e.g. the webhooks' outbox (sidestore.go)
//
// A run (run.go) is consecutive operations of one document in one value,
// keyed in a log by the revision of its first operation; seq and rev keys
// are 8 bytes big-endian, so byte order is numeric order.
//
// Commit appends each document's new operations to the journal, one entry
// per document and commit, and rewrites the metas it changed; that is all a
// commit of many documents writes, a few pages at the journal's end and the
// meta pages. Every [Options.JournalOps] operations a checkpoint moves the
// journal into the logs, one run per document, and empties it (journal.go
// has the whole story). A document's meta says where its operations are:
// First … JRev-1 in its log, JRev … Head in journal entries from JSeq on.
//
// Costs that follow from it:
//
//   - ReadOps: a meta lookup, a cursor Seek in the document's log to the
//     run holding after+1 and Next until the limit, then, past the log, a
//     scan of the journal from JSeq that skips other documents' entries by
//     their id prefix. The journal's bound bounds that scan.
//   - Load: a meta lookup, a snapshot lookup, and the same read from the
//     snapshot's revision; the meta row carries the snapshot's revision so
//     nothing else is read.
//   - Watermark: a lookup in the marks, raised by the client's operations
//     in the journal (the same scan).
//   - List: a cursor scan of meta, whose keys are the ids, in id order;
//     meta rows are small, so the scan does not drag snapshots or logs in.
//   - Delete: two key deletes and three bucket deletes (log, watermarks,
//     outcomes). Deleting a bucket frees its pages without visiting each
//     key, which is why each log and each watermark set is a sub-bucket
//     rather than a range of keys in a shared bucket; a small sub-bucket
//     is stored inline in its parent's page, so a document with a short
//     log costs no page of its own. The
//     document's journal entries stay, dead, until the next checkpoint.
//   - Retention first moves the document's journal entries into its log,
//     then deletes the runs before the new first revision and rewrites the
//     one that straddles it.
//
// Layout 1 (no journal, one operation per log value, metas without journal
// fields) is opened and upgraded in place: its values still decode.
//
// # Encoding
//
// Every value starts with a version byte (1; 2 for a meta since layout 2)
// followed by binary fields;
// see encoding.go for the exact fields and for why binary rather than
// JSON. Decoders return an error wrapping a "corrupt value" error on any
// malformed input and never panic (they are fuzzed); reads also check that
// an op's stored revision matches its key and that the log has no gaps, so
// a damaged file is reported, not served.
//
// # bbolt settings
//
// The map freelist (FreelistMapType) finds free pages in O(1) where the
// default array freelist scans, which matters once trimming has freed many
// pages. NoFreelistSync skips writing the freelist in every commit, saving
// pages per fsync; Open pays for it once by scanning the file to rebuild
// the freelist. The file lock wait is bounded ([Options.Timeout]) so a
// second server on the same file fails instead of hanging.
//
// # Traps
//
//   - Commit is not meant to be concurrent. Concurrent Commits are safe
//     but simply queue, each paying its own log sync: group commit
//     belongs to the caller.
//   - Commit blocks its goroutine in fdatasync, and a goroutine in a
//     system call keeps its P until the runtime's monitor takes it back
//     (~130 µs measured). In a process with one P (GOMAXPROCS=1: one CPU,
//     or a one-CPU container limit) nothing else runs meanwhile, and the
//     committer then waits for the P others took. A second P on the same
//     CPU removes both waits but costs the CPU of a second thread: measured
//     (BENCHMARKS.md), it helped only on a heavily shared core and was
//     slower on a quieter one, so syncd leaves GOMAXPROCS to the runtime.
//     Taking the sync off the P without a second P was tried too and
//     reverted (BENCHMARKS.md, issue 14's third round; the code is commit
//     cfdd5a0): the write and fdatasync as one io_uring submission, the
//     committer parked in the network poller on an eventfd the ring
//     signals. The P did run other goroutines during the sync, and the
//     committer got it back at once, but every sync then cost a kernel
//     worker thread's wake-up and the poller's (~30–40 µs more per sync
//     measured alone, and 26–46% more server CPU per edit), and on the one
//     core that cost more than the stall it removed: p50 was higher in
//     every series, commits/s were mixed.
//   - The applier's bbolt syncs share the disk with the log's: a log
//     fdatasync issued while the applier's transaction is syncing tends to
//     finish with it (BENCHMARKS.md, issue 14's fourth round: slow log
//     syncs overlapped an applier transaction 2.5 times more often than by
//     chance). Tried against it at 100 writers and not kept, for want of
//     a signal in the noise: the apply interval at 1 s and at 20 s, and
//     the applier yielding its P every 64 records. With 100 writers the
//     log is not slower than bbolt's own commits were (five interleaved
//     series, 1.08–1.30× the old binary's commits/s, the same batches and
//     CPU per edit).
//   - [Options.NoSync] is unsafe outside tests and benchmarks: without the
//     syncs a power loss can lose acknowledged operations or corrupt the
//     file. It also skips writing the log's segments ahead with zeros.
//   - A journal checkpoint (journal.go; not [Store.Checkpoint]) makes the
//     applier's transaction that triggers it slower (it moves up to
//     JournalOps operations); no acknowledgement waits for it.
//   - The first read of a document written in the last ApplyInterval
//     waits for one bbolt transaction. The engine reads a document from
//     the store when it loads it and for catch-ups its ring cannot serve,
//     and reads a client's watermark once per document, so this is rare.
//   - The log takes up to about twice [Options.LogSegmentBytes] on disk
//     (more while the applier is behind), and Open reads it all.
//   - Retention trims a log only up to the document's newest snapshot. A
//     document that never gets a snapshot keeps every operation; the engine
//     writes snapshots every N operations, which bounds the log.
//   - A long read transaction keeps the pages it sees from being reused
//     (the file grows while it runs) and makes a commit that must remap
//     the file wait for it; see [Options.InitialMmapSize]. That is why
//     [Store.Backup] never streams out of its transaction: it copies the
//     snapshot to a temporary file beside the database at disk speed, ends
//     the transaction, and streams the copy, so a slow or stalled backup
//     reader costs a file descriptor and one more copy's disk space, never
//     a writer's progress. The transaction still lasts as long as that
//     local copy; a file of many gigabytes on a slow disk stalls growing
//     commits for that long (InitialMmapSize avoids even that).
//   - Values read from bbolt point into its memory map and are valid only
//     inside their transaction; every decoder copies what it returns.
package boltstore
