// Package boltstore is the default [syncd.Store]: documents, their
// operation logs, snapshots and client watermarks in one bbolt file.
//
// # Model
//
// bbolt allows one read-write transaction at a time and any number of
// read-only ones, which see a consistent snapshot and never block the
// writer (nor are blocked by it). [Store.Commit] is one read-write
// transaction: every record of the batch applies or none does, and when
// Commit returns nil the transaction is committed and fsynced. The engine
// does group commit (it batches the writes of many documents into one
// Commit), so one fsync covers a whole batch and the store needs no queue
// of its own. Load, ReadOps, Watermark and List are each one read
// transaction.
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
//	clients  clientID → record                      owner, newest attempt (clients.go)
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
//   - Delete: two key deletes and two bucket deletes. Deleting a bucket
//     frees its pages without visiting each key, which is why each log and
//     each watermark set is a sub-bucket rather than a range of keys in a
//     shared bucket; a small sub-bucket is stored inline in its parent's
//     page, so a document with a short log costs no page of its own. The
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
// Every value starts with a version byte (1) followed by binary fields;
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
//   - Commit is not meant to be concurrent. bbolt serialises read-write
//     transactions, so concurrent Commits are safe but simply queue, each
//     paying its own fsync: group commit belongs to the caller.
//   - [Options.NoSync] is unsafe outside tests and benchmarks: without the
//     fsync a power loss can lose acknowledged operations or corrupt the
//     file.
//   - A checkpoint makes the commit that triggers it slower (it moves up
//     to JournalOps operations); the commits between are cheaper.
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
