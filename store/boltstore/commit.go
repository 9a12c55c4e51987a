package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// apply writes records to bbolt as one read-write transaction that also
// records seq as the newest applied log record: atomic (an error rolls
// everything back) and, unless [Options.NoSync], durable when it returns
// (bbolt fsyncs the file before it returns from the transaction's commit).
// The applier (wal_store.go) and Open's replay call it with batches that
// Commit has checked and logged.
func (s *Store) apply(batch []syncd.Record, seq uint64) error {
	s.metas.mu.Lock()
	defer s.metas.mu.Unlock()
	var w writer
	err := s.db.Update(func(tx *bbolt.Tx) error {
		w = writer{
			tx:        tx,
			meta:      tx.Bucket(bucketMeta),
			snap:      tx.Bucket(bucketSnap),
			ops:       tx.Bucket(bucketOps),
			marks:     tx.Bucket(bucketMarks),
			retention: s.retention,
			docs:      make(map[string]*docState),

			journalOps: s.journalOps,
			spare:      &s.spare,
			metas:      &s.metas,
		}
		for i, rec := range batch {
			if err := w.apply(rec); err != nil {
				return fmt.Errorf("record %d of %d: %w", i, len(batch), err)
			}
		}
		if err := w.finish(); err != nil {
			return err
		}
		return putApplied(tx, seq)
	})
	if err != nil {
		// The metas the batch changed were rolled back with it; the
		// cache never saw them.
		return wrapErr("apply", err)
	}
	for _, st := range w.order {
		s.metas.store(st.id, st.m)
	}
	return nil
}

// writer applies the records of one batch inside its transaction. It keeps
// each document's meta decoded in docs and writes it once, in finish, so a
// batch of many appends to one document costs one meta write, not one per
// append. Appends go to the journal (journal.go).
type writer struct {
	tx                     *bbolt.Tx
	meta, snap, ops, marks *bbolt.Bucket
	retention              int
	docs                   map[string]*docState
	order                  []*docState // docs in first-touch order

	// The journal, once this batch has used it: its bucket, the sequence
	// number of its first entry and of the next one.
	journal       *bbolt.Bucket
	jfirst, jnext uint64
	journalOps    int // checkpoint when the journal holds this many

	scratch []byte // an op being encoded
	spare   *spareBufs
	metas   *metaCache

	outcomes outcomeWriter // outcomes.go
}

// docState is one document as the batch sees it.
type docState struct {
	id    string
	key   []byte
	m     *meta // nil: the document does not exist (now)
	mv    meta  // m's storage when it came from the cache
	dirty bool  // m differs from the stored meta
	trim  bool  // an Append or Snapshot may call for trimming
	// ops caches the document's log bucket once opened.
	ops *bbolt.Bucket
	// pending holds the ops this batch appends, written to the journal as
	// one entry in finish.
	pending runBuilder
	// moving holds ops on their way from the journal to the log, and
	// check their contiguity (checkpoint, flushDoc).
	moving    runBuilder
	check     checkRun
	moveMarks map[string]*[]byte // see noteMark
	// marks holds the watermarks the batch has read or changed, by client.
	marks map[string]*pendingMark
}

// pendingMark is a watermark as the batch sees it.
type pendingMark struct {
	w       revision.Watermark
	changed bool // differs from the stored one; finish writes it
}

// errMalformed marks records the contract does not allow; they fail the
// batch without being conflicts.
var errMalformed = errors.New("malformed record")

// state returns doc as the batch sees it, loading its meta on first use.
func (w *writer) state(doc string) (*docState, error) {
	if st := w.docs[doc]; st != nil {
		return st, nil
	}
	if doc == "" || len(doc) > bbolt.MaxKeySize {
		return nil, fmt.Errorf("%w: document id of %d bytes", errMalformed, len(doc))
	}
	st := &docState{id: doc, key: []byte(doc)}
	if m, ok := w.metas.load(doc); ok {
		st.mv = m
		st.m = &st.mv
	} else {
		m, err := getMeta(w.tx, doc)
		if err != nil {
			return nil, err
		}
		st.m = m
	}
	w.docs[doc] = st
	w.order = append(w.order, st)
	return st, nil
}

func (w *writer) apply(rec syncd.Record) error {
	err := rec.ApplyTo(w)
	if errors.Is(err, syncd.ErrMalformedRecord) {
		return fmt.Errorf("%w: %w", errMalformed, err)
	}
	return err
}

// ApplyCreate implements [syncd.RecordApplier].
func (w *writer) ApplyCreate(c *syncd.CreateRecord) error {
	if c.Epoch == "" {
		return fmt.Errorf("%w: create %q without an epoch", errMalformed, c.Doc)
	}
	st, err := w.state(c.Doc)
	if err != nil {
		return err
	}
	if st.m != nil {
		return fmt.Errorf("create %q: exists with epoch %s: %w", c.Doc, st.m.Epoch, syncd.ErrConflict)
	}
	// A new epoch starts from nothing. Delete leaves no data behind, so
	// this finds nothing, but it costs two lookups and makes sure a file
	// damaged by hand cannot leak an old log into a new history.
	if err := w.dropData(st); err != nil {
		return err
	}
	st.m = &meta{Epoch: c.Epoch, First: 1, Created: c.Time, Updated: c.Time}
	st.dirty = true
	return nil
}

// ApplyAppend implements [syncd.RecordApplier].
func (w *writer) ApplyAppend(a *syncd.AppendRecord) error {
	if a.Op == nil {
		return fmt.Errorf("%w: append to %q without an op", errMalformed, a.Doc)
	}
	st, err := w.state(a.Doc)
	if err != nil {
		return err
	}
	switch {
	case st.m == nil:
		return fmt.Errorf("append to %q: no such document: %w", a.Doc, syncd.ErrConflict)
	case st.m.Epoch != a.Epoch:
		return fmt.Errorf("append to %q: epoch %s, document has %s: %w", a.Doc, a.Epoch, st.m.Epoch, syncd.ErrConflict)
	case a.Op.Rev != st.m.Head+1:
		return fmt.Errorf("append to %q: rev %d, head is %d: %w", a.Doc, a.Op.Rev, st.m.Head, syncd.ErrConflict)
	}
	if len(a.Op.ClientID) > bbolt.MaxKeySize {
		return fmt.Errorf("%w: client id of %d bytes", errMalformed, len(a.Op.ClientID))
	}
	// The journal entry carries the op's client and request id: the
	// watermark it raises is read from the journal until a checkpoint
	// stores it.
	w.scratch = appendOp(w.scratch[:0], a.Op)
	if st.pending.body == nil {
		st.pending.body = w.spare.get()
	}
	st.pending.add(a.Op.Rev, w.scratch)
	if a.Op.ClientID != "" && a.Op.ClientReqID != "" {
		if err := w.outcomes.record(w.tx, st.id, a.Op.ClientID, revision.Outcome{ReqID: a.Op.ClientReqID, Rev: a.Op.Rev}); err != nil {
			return err
		}
	}
	st.m.Head = a.Op.Rev
	st.m.Updated = a.Op.Time
	st.dirty, st.trim = true, true
	return nil
}

// ApplyDecide implements [syncd.RecordApplier].
func (w *writer) ApplyDecide(d *syncd.DecideRecord) error {
	if d.ClientID == "" || d.ReqID == "" {
		return fmt.Errorf("%w: decide in %q needs a client id and a request id", errMalformed, d.Doc)
	}
	st, err := w.state(d.Doc)
	if err != nil || st.m == nil {
		return err
	}
	if err := w.outcomes.record(w.tx, st.id, d.ClientID, revision.Refused(d.ReqID, d.Code)); err != nil {
		return err
	}
	return w.advance(st, d.ClientID, d.ReqID)
}

// advance raises client's watermark in st to reqID if that is higher. The
// batch keeps each watermark it touches in st.marks and writes the changed
// ones once, in finish: a batch of many appends from one client costs one
// watermark write.
func (w *writer) advance(st *docState, client, reqID string) error {
	if len(client) > bbolt.MaxKeySize {
		return fmt.Errorf("%w: client id of %d bytes", errMalformed, len(client))
	}
	m, ok := st.marks[client]
	if !ok {
		m = &pendingMark{}
		if b := w.marks.Bucket(st.key); b != nil {
			if v := b.Get([]byte(client)); v != nil {
				var err error
				if m.w, err = decodeMark(v); err != nil {
					return fmt.Errorf("watermark of %q in %q: %w", client, st.id, err)
				}
			}
		}
		if st.marks == nil {
			st.marks = make(map[string]*pendingMark)
		}
		st.marks[client] = m
	}
	if next := m.w.Advance(reqID); next != m.w {
		m.w, m.changed = next, true
	}
	return nil
}

// writeMarks stores the watermarks of st that the batch changed.
func (w *writer) writeMarks(st *docState) error {
	var b *bbolt.Bucket
	for _, client := range slices.Sorted(maps.Keys(st.marks)) {
		m := st.marks[client]
		if !m.changed {
			continue
		}
		if b == nil {
			var err error
			if b, err = w.marks.CreateBucketIfNotExists(st.key); err != nil {
				return err
			}
		}
		if err := b.Put([]byte(client), encodeMark(m.w)); err != nil {
			return err
		}
	}
	return nil
}

// ApplySnapshot implements [syncd.RecordApplier].
func (w *writer) ApplySnapshot(sn *syncd.SnapshotRecord) error {
	st, err := w.state(sn.Doc)
	if err != nil {
		return err
	}
	switch {
	case st.m == nil:
		return fmt.Errorf("snapshot of %q: no such document: %w", sn.Doc, syncd.ErrConflict)
	case st.m.Epoch != sn.Epoch:
		return fmt.Errorf("snapshot of %q: epoch %s, document has %s: %w", sn.Doc, sn.Epoch, st.m.Epoch, syncd.ErrConflict)
	case sn.Rev > st.m.Head:
		return fmt.Errorf("snapshot of %q: rev %d is beyond the head %d: %w", sn.Doc, sn.Rev, st.m.Head, syncd.ErrConflict)
	case sn.Rev < st.m.SnapRev:
		// Only the newest snapshot is kept; an older one adds nothing.
		return nil
	}
	// One key per document, overwritten: older snapshots are never kept.
	if err := w.snap.Put(st.key, encodeSnapshot(sn.Rev, sn.State)); err != nil {
		return err
	}
	st.m.SnapRev = sn.Rev
	st.dirty, st.trim = true, true
	return nil
}

// ApplyDelete implements [syncd.RecordApplier].
func (w *writer) ApplyDelete(d *syncd.DeleteRecord) error {
	st, err := w.state(d.Doc)
	if err != nil {
		return err
	}
	if err := w.meta.Delete(st.key); err != nil {
		return err
	}
	if err := w.dropData(st); err != nil {
		return err
	}
	st.m, st.dirty, st.trim = nil, false, false
	return nil
}

// dropData deletes everything of st but its meta: snapshot, op bucket and
// watermark bucket. Deleting a bucket frees its pages without visiting its
// keys one by one, which is why the log and the watermarks of a document
// are sub-buckets.
func (w *writer) dropData(st *docState) error {
	if err := w.snap.Delete(st.key); err != nil {
		return err
	}
	for _, parent := range []*bbolt.Bucket{w.ops, w.marks} {
		if err := parent.DeleteBucket(st.key); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
			return err
		}
	}
	if err := w.outcomes.drop(w.tx, st.key); err != nil {
		return err
	}
	// Pending watermarks and appends die with the data.
	st.ops, st.marks = nil, nil
	st.pending.reset()
	return nil
}

// finish checkpoints a full journal, trims the logs that grew and writes
// the metas and watermarks that changed.
func (w *writer) finish() error {
	if err := w.writeEntries(); err != nil {
		return err
	}
	if w.journalFull() {
		if err := w.checkpoint(); err != nil {
			return err
		}
	}
	for _, st := range w.order {
		if st.m == nil {
			continue
		}
		if st.trim {
			if err := w.trimLog(st); err != nil {
				return err
			}
		}
		if st.dirty {
			if err := w.meta.Put(st.key, encodeMeta(st.m)); err != nil {
				return err
			}
		}
		if err := w.writeMarks(st); err != nil {
			return err
		}
	}
	return w.outcomes.flush(w.tx)
}

// trimLog applies retention to st's log (see trimStart): it deletes the
// runs that end before the new first revision and rewrites the one that
// straddles it, keeping its tail.
func (w *writer) trimLog(st *docState) error {
	start, ok := syncd.TrimStart(st.m.First, st.m.Head, st.m.SnapRev, w.retention)
	if !ok {
		return nil
	}
	// Trimming is rare (once per retention/16 appends): move the journal's
	// entries of st into its log first, so that its log is all there is.
	if err := w.flushDoc(st); err != nil {
		return err
	}
	if st.ops == nil {
		if st.ops = w.ops.Bucket(st.key); st.ops == nil {
			return fmt.Errorf("%w: ops of %q are missing", errCorrupt, st.id)
		}
	}
	var drop [][]byte
	var tail runBuilder
	c := st.ops.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		first, err := keyRev(k)
		if err != nil {
			return err
		}
		if first >= start {
			break
		}
		drop = append(drop, bytes.Clone(k))
		err = eachLogOp(v, func(rev revision.Rev, enc []byte) (bool, error) {
			if rev >= start {
				tail.add(rev, enc) // copies enc
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("log of %q at %d: %w", st.id, first, err)
		}
		if tail.count > 0 {
			break
		}
	}
	for _, k := range drop {
		if err := st.ops.Delete(k); err != nil {
			return err
		}
	}
	if tail.count > 0 {
		if err := st.ops.Put(revKey(tail.first), tail.encode()); err != nil {
			return err
		}
	}
	st.m.First = start
	st.dirty = true
	return nil
}
