package boltstore

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd/revision"
)

// The journal is where Commit appends operations; checkpoints move them into
// the documents' own logs.
//
// Why: bbolt rewrites every page a transaction dirtied, in full, at commit.
// Appending in place to the logs of many documents dirties at least one
// leaf of each document's log, plus the pages that lead to it: a commit's
// page writes grew with the documents it touched, and with 64 documents the
// committer spent most of its time in bbolt spilling and copying them
// (BENCHMARKS.md, "Commit on boltstore"). Appended to one bucket under an
// increasing sequence number, the
// same operations dirty only that bucket's last few pages, however many
// documents they belong to; the documents' metas, which change anyway, are
// small and packed many to a page.
//
// Once the journal holds [Options.JournalOps] operations, the commit that
// crosses the line also moves every entry into its document's log, in
// journal order, and empties the journal by deleting its bucket (which
// frees its pages without visiting them). A document's log pages are then
// rewritten once per checkpoint rather than once per commit.
//
// Reads need no state outside the transaction: a document's meta says where
// its first journal entry is (JSeq) and which revision it holds (JRev), and
// a read scans the journal from there, skipping other documents' entries by
// the id that starts each entry. The journal's bounded length bounds that
// scan. Watermarks are carried the same way: an entry holds its op's client
// and request id, a checkpoint raises the stored watermarks from them, and
// Watermark reads combine the two.
//
// An entry stays in the journal after its document is deleted, or after its
// operations were moved ahead of a checkpoint (flushDoc, before trimming a
// log); such entries are dead, recognised by a meta that no longer points
// at or before them, and vanish at the next checkpoint.

// keyJournalNext in bucketInfo holds the sequence number that follows the
// last entry when a checkpoint emptied the journal, so that sequence numbers
// keep increasing across checkpoints: a meta damaged into pointing at an old
// sequence number cannot then adopt a newer document's entries silently.
var keyJournalNext = []byte("journalNext")

// seqKey is the key of a journal entry: its sequence number as 8 bytes
// big-endian, so that byte order is append order. Sequence numbers count
// operations, not entries (an entry of n operations takes n numbers), so
// that the difference between the next number and the first one is how
// many operations the journal holds, whatever the size of its entries.
func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

// keySeq decodes a seqKey.
func keySeq(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("%w: journal key of %d bytes, want 8", errCorrupt, len(k))
	}
	return binary.BigEndian.Uint64(k), nil
}

// openJournal prepares w for appending to the journal: the bucket, the
// next sequence number and the first one (the journal's length is their
// difference). It is done once per batch, on first use.
func (w *writer) openJournal() error {
	if w.journal != nil {
		return nil
	}
	w.journal = w.tx.Bucket(bucketJournal)
	// The journal only grows at its end until a checkpoint empties it.
	w.journal.FillPercent = 1.0
	c := w.journal.Cursor()
	first, _ := c.First()
	if first == nil {
		w.jnext = 1
		if v := w.tx.Bucket(bucketInfo).Get(keyJournalNext); v != nil {
			next, err := keySeq(v)
			if err != nil {
				return err
			}
			w.jnext = next
		}
		w.jfirst = w.jnext
		return nil
	}
	last, lastV := c.Last()
	f, err := keySeq(first)
	if err != nil {
		return err
	}
	l, err := keySeq(last)
	if err != nil {
		return err
	}
	_, run, err := entryDoc(lastV)
	if err != nil {
		return fmt.Errorf("journal entry %d: %w", l, err)
	}
	n, err := runLen(run)
	if err != nil {
		return fmt.Errorf("journal entry %d: %w", l, err)
	}
	w.jfirst, w.jnext = f, l+n
	return nil
}

// writeEntries writes the operations this batch appended, one journal
// entry per document, and points each document's meta at its first entry
// if it had none.
func (w *writer) writeEntries() error {
	// All entries are carved from one allocation: bbolt holds each value
	// until the transaction commits, so they cannot be reused buffers, but
	// they need not be separate objects.
	size := 0
	for _, st := range w.order {
		if st.pending.count > 0 {
			size += entrySize(st.key, &st.pending)
		}
	}
	arena := make([]byte, 0, size)
	for _, st := range w.order {
		if st.pending.count == 0 {
			continue
		}
		if err := w.openJournal(); err != nil {
			return err
		}
		seq := w.jnext
		start := len(arena)
		arena = appendEntry(arena, st.key, &st.pending)
		if err := w.journal.Put(seqKey(seq), arena[start:len(arena):len(arena)]); err != nil {
			return err
		}
		w.jnext += uint64(st.pending.count)
		if st.m.JSeq == 0 {
			st.m.JSeq, st.m.JRev = seq, st.pending.first
		}
		w.spare.put(st.pending.body)
		st.pending = runBuilder{}
	}
	return nil
}

// journalFull reports whether the journal holds enough operations to be due
// for a checkpoint.
func (w *writer) journalFull() bool {
	return w.journal != nil && w.jnext-w.jfirst >= uint64(w.journalOps)
}

// live reports whether the journal entry at seq belongs to st's current
// history and has not been moved yet.
func (st *docState) live(seq uint64) bool {
	return st.m != nil && st.m.JSeq != 0 && seq >= st.m.JSeq
}

// checkpoint moves every live entry into its document's log and empties
// the journal.
func (w *writer) checkpoint() error {
	if err := w.openJournal(); err != nil {
		return err
	}
	c := w.journal.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		seq, err := keySeq(k)
		if err != nil {
			return err
		}
		doc, run, err := entryDoc(v)
		if err != nil {
			return fmt.Errorf("journal entry %d: %w", seq, err)
		}
		st := w.docs[string(doc)] // no allocation for the lookup
		if st == nil {
			if st, err = w.state(string(doc)); err != nil {
				return err
			}
		}
		if st.live(seq) {
			if err := w.moveRun(st, run); err != nil {
				return fmt.Errorf("journal entry %d: %w", seq, err)
			}
		}
	}
	for _, st := range w.order {
		if st.m != nil && st.m.JSeq != 0 {
			if err := w.moved(st); err != nil {
				return err
			}
		}
	}
	if err := w.tx.DeleteBucket(bucketJournal); err != nil {
		return err
	}
	j, err := w.tx.CreateBucket(bucketJournal)
	if err != nil {
		return err
	}
	if err := w.tx.Bucket(bucketInfo).Put(keyJournalNext, seqKey(w.jnext)); err != nil {
		return err
	}
	j.FillPercent = 1.0
	w.journal, w.jfirst = j, w.jnext
	return nil
}

// flushDoc moves st's live entries into its log ahead of a checkpoint, so
// that its log can be trimmed. The entries stay in the journal, dead.
func (w *writer) flushDoc(st *docState) error {
	if st.m == nil || st.m.JSeq == 0 {
		return nil
	}
	if err := w.openJournal(); err != nil {
		return err
	}
	c := w.journal.Cursor()
	for k, v := c.Seek(seqKey(st.m.JSeq)); k != nil; k, v = c.Next() {
		doc, run, err := entryDoc(v)
		if err != nil {
			return fmt.Errorf("journal entry %x: %w", k, err)
		}
		if bytes.Equal(doc, st.key) {
			if err := w.moveRun(st, run); err != nil {
				return fmt.Errorf("journal entry %x: %w", k, err)
			}
		}
	}
	return w.moved(st)
}

// moveRun adds the ops of one of st's journal entries to the run that will
// go into st's log, and raises the watermarks they carry.
func (w *writer) moveRun(st *docState, run []byte) error {
	if st.moving.count == 0 && st.check.want == 0 {
		st.check = checkRun{doc: st.id, want: st.m.JRev}
	}
	if st.moving.body == nil {
		st.moving.body = w.spare.get()
	}
	return eachRunOp(run, func(rev revision.Rev, enc []byte) (bool, error) {
		if err := st.check.next(rev); err != nil {
			return false, err
		}
		// add copies enc: it points into the journal's pages, which this
		// transaction frees, and bbolt reads Put's value only at commit.
		st.moving.add(rev, enc)
		if st.moving.count >= maxRunOps {
			if err := w.putMoving(st); err != nil {
				return false, err
			}
		}
		_, client, req, err := opHeader(enc)
		if err != nil {
			return false, err
		}
		if len(client) > 0 && len(req) > 0 {
			st.noteMark(client, req)
		}
		return true, nil
	})
}

// noteMark remembers the highest request id of client among the ops being
// moved; moved raises the watermarks from them, once per client rather
// than once per op (which would build two strings per op). The slices
// alias the journal's pages, valid until the transaction ends.
func (st *docState) noteMark(client, req []byte) {
	if cur := st.moveMarks[string(client)]; cur != nil { // no allocation
		if revision.CompareReqID(string(req), string(*cur)) > 0 {
			*cur = req
		}
		return
	}
	if st.moveMarks == nil {
		st.moveMarks = make(map[string]*[]byte)
	}
	p := new([]byte) // not &req, which would move req to the heap on every call
	*p = req
	st.moveMarks[string(client)] = p
}

// putMoving writes the run being moved into st's log, under its first
// revision.
func (w *writer) putMoving(st *docState) error {
	if st.moving.count == 0 {
		return nil
	}
	b, err := w.logBucket(st)
	if err != nil {
		return err
	}
	if err := b.Put(revKey(st.moving.first), st.moving.encode()); err != nil {
		return err
	}
	st.moving.reset()
	return nil
}

// moved finishes moving st's entries, which must have reached its head.
func (w *writer) moved(st *docState) error {
	if st.check.want != st.m.Head+1 {
		return fmt.Errorf("%w: journal holds %q up to %d, head is %d", errCorrupt, st.id, st.check.want-1, st.m.Head)
	}
	if err := w.putMoving(st); err != nil {
		return err
	}
	w.spare.put(st.moving.body)
	st.moving = runBuilder{}
	for client, req := range st.moveMarks {
		if err := w.advance(st, client, string(*req)); err != nil {
			return err
		}
	}
	st.moveMarks = nil
	st.m.JSeq, st.m.JRev, st.check = 0, 0, checkRun{}
	st.dirty = true
	return nil
}

// logBucket returns st's log bucket, creating it on first use.
func (w *writer) logBucket(st *docState) (*bbolt.Bucket, error) {
	if st.ops == nil {
		var err error
		if st.ops, err = w.ops.CreateBucketIfNotExists(st.key); err != nil {
			return nil, err
		}
		// A log only grows at its end: fill its pages completely instead
		// of bbolt's default half, so appends split fewer pages.
		st.ops.FillPercent = 1.0
	}
	return st.ops, nil
}

// scanEntries calls fn with each op (encoded) of doc's journal entries,
// oldest first, from m.JSeq, until fn returns false or an error. It checks
// that the ops are m.JRev, m.JRev+1, … and, if fn never stops it, that
// they reach the head.
func scanEntries(tx *bbolt.Tx, doc []byte, m *meta, fn func(rev revision.Rev, enc []byte) (bool, error)) error {
	if m.JSeq == 0 {
		return nil
	}
	check := checkRun{doc: string(doc), want: m.JRev}
	stopped := false
	c := tx.Bucket(bucketJournal).Cursor()
	for k, v := c.Seek(seqKey(m.JSeq)); k != nil && !stopped; k, v = c.Next() {
		d, run, err := entryDoc(v)
		if err != nil {
			return fmt.Errorf("journal entry %x: %w", k, err)
		}
		if !bytes.Equal(d, doc) {
			continue
		}
		err = eachRunOp(run, func(rev revision.Rev, enc []byte) (bool, error) {
			if err := check.next(rev); err != nil {
				return false, err
			}
			more, err := fn(rev, enc)
			stopped = !more
			return more, err
		})
		if err != nil {
			return fmt.Errorf("journal entry %x: %w", k, err)
		}
	}
	if !stopped && check.want != m.Head+1 {
		return fmt.Errorf("%w: journal holds %q up to %d, head is %d", errCorrupt, doc, check.want-1, m.Head)
	}
	return nil
}
