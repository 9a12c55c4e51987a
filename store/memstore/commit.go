package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// Commit implements [syncd.Store.Commit]: it applies batch to an overlay of
// the documents it touches and installs the overlay only if every record
// passed its checks.
func (s *Store) Commit(ctx context.Context, batch []syncd.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	// Reading s.docs without mu is safe here: only Commit and Close write
	// it, and both hold commitMu.
	if s.closed {
		return errClosed
	}
	o := overlay{base: s.docs, docs: make(map[string]*document)}
	for i, rec := range batch {
		if err := o.apply(rec); err != nil {
			return fmt.Errorf("memstore: commit record %d of %d: %w", i, len(batch), err)
		}
	}
	for _, id := range o.touched {
		if d := o.docs[id]; d != nil {
			d.trim(s.retention)
		}
	}

	s.mu.Lock()
	for id, d := range o.docs {
		if d == nil {
			delete(s.docs, id)
		} else {
			s.docs[id] = d
		}
	}
	s.mu.Unlock()
	return nil
}

// overlay is a batch's private view: docs holds the documents the batch has
// changed (a nil value: deleted), base the committed ones.
type overlay struct {
	base map[string]*document
	docs map[string]*document
	// dedup makes a record of a client request the document has already
	// decided a conflict, as a shared store's de-duplication does
	// (shared.go).
	dedup bool
	// touched lists the documents that got an Append or a Snapshot, in
	// first-touch order: the ones retention may need to trim.
	touched []string
}

// get returns the document as the batch sees it, or nil.
func (o *overlay) get(id string) *document {
	if d, ok := o.docs[id]; ok {
		return d
	}
	return o.base[id]
}

// edit returns a private copy of the existing document id that the batch
// may modify, or nil if the document does not exist.
func (o *overlay) edit(id string) *document {
	if d, ok := o.docs[id]; ok {
		return d // already a clone, or nil (deleted)
	}
	b := o.base[id]
	if b == nil {
		return nil
	}
	c := *b
	c.marksOwned = false
	c.outcomesOwned = false
	o.docs[id] = &c
	return &c
}

func (o *overlay) touch(id string) {
	for _, t := range o.touched {
		if t == id {
			return
		}
	}
	o.touched = append(o.touched, id)
}

// errMalformed marks records the contract does not allow; they fail the
// batch without being conflicts.
var errMalformed = errors.New("malformed record")

// checkRecord reports a record the contract does not allow, whatever the
// stored state.
func checkRecord(rec syncd.Record) error {
	if err := rec.Check(); err != nil {
		return fmt.Errorf("%w: %w", errMalformed, err)
	}
	switch {
	case rec.Create != nil && (rec.Create.Doc == "" || rec.Create.Epoch == ""):
		return fmt.Errorf("%w: create needs a document id and an epoch", errMalformed)
	case rec.Append != nil && rec.Append.Op == nil:
		return fmt.Errorf("%w: append to %q without an op", errMalformed, rec.Append.Doc)
	case rec.Decide != nil && (rec.Decide.ClientID == "" || rec.Decide.ReqID == ""):
		return fmt.Errorf("%w: decide in %q needs a client id and a request id", errMalformed, rec.Decide.Doc)
	}
	return nil
}

func (o *overlay) apply(rec syncd.Record) error {
	if err := checkRecord(rec); err != nil {
		return err
	}
	return rec.ApplyTo(o)
}

// ApplyCreate implements [syncd.RecordApplier].
func (o *overlay) ApplyCreate(c *syncd.CreateRecord) error {
	if d := o.get(c.Doc); d != nil {
		return fmt.Errorf("create %q: exists with epoch %s: %w", c.Doc, d.meta.Epoch, syncd.ErrConflict)
	}
	o.docs[c.Doc] = &document{
		meta: syncd.DocMeta{
			Doc: c.Doc, Epoch: c.Epoch, Head: 0, First: 1,
			Created: c.Time, Updated: c.Time,
		},
		marksOwned:    true, // nil, and nobody else's: advance allocates it
		outcomesOwned: true,
	}
	return nil
}

// ApplyAppend implements [syncd.RecordApplier].
func (o *overlay) ApplyAppend(a *syncd.AppendRecord) error {
	d := o.edit(a.Doc)
	switch {
	case d == nil:
		return fmt.Errorf("append to %q: no such document: %w", a.Doc, syncd.ErrConflict)
	case d.meta.Epoch != a.Epoch:
		return fmt.Errorf("append to %q: epoch %s, document has %s: %w", a.Doc, a.Epoch, d.meta.Epoch, syncd.ErrConflict)
	case a.Op.Rev != d.meta.Head+1:
		return fmt.Errorf("append to %q: rev %d, head is %d: %w", a.Doc, a.Op.Rev, d.meta.Head, syncd.ErrConflict)
	case o.dedup && a.Op.ClientID != "" && a.Op.ClientReqID != "" && d.marks[a.Op.ClientID].Decided(a.Op.ClientReqID):
		return fmt.Errorf("append to %q: request %s of client %q was already decided: %w", a.Doc, a.Op.ClientReqID, a.Op.ClientID, syncd.ErrConflict)
	}
	d.ops = append(d.ops, a.Op)
	d.meta.Head = a.Op.Rev
	d.meta.Updated = a.Op.Time
	if a.Op.ClientID != "" && a.Op.ClientReqID != "" {
		d.advance(a.Op.ClientID, revision.Outcome{ReqID: a.Op.ClientReqID, Rev: a.Op.Rev})
	}
	o.touch(a.Doc)
	return nil
}

// ApplyDecide implements [syncd.RecordApplier].
func (o *overlay) ApplyDecide(dc *syncd.DecideRecord) error {
	if d := o.get(dc.Doc); o.dedup && d != nil && d.marks[dc.ClientID].Decided(dc.ReqID) {
		return fmt.Errorf("decide in %q: request %s of client %q was already decided: %w", dc.Doc, dc.ReqID, dc.ClientID, syncd.ErrConflict)
	}
	if d := o.edit(dc.Doc); d != nil {
		d.advance(dc.ClientID, revision.Refused(dc.ReqID, dc.Code))
	}
	return nil
}

// ApplySnapshot implements [syncd.RecordApplier].
func (o *overlay) ApplySnapshot(sn *syncd.SnapshotRecord) error {
	d := o.edit(sn.Doc)
	switch {
	case d == nil:
		return fmt.Errorf("snapshot of %q: no such document: %w", sn.Doc, syncd.ErrConflict)
	case d.meta.Epoch != sn.Epoch:
		return fmt.Errorf("snapshot of %q: epoch %s, document has %s: %w", sn.Doc, sn.Epoch, d.meta.Epoch, syncd.ErrConflict)
	case sn.Rev > d.meta.Head:
		return fmt.Errorf("snapshot of %q: rev %d is beyond the head %d: %w", sn.Doc, sn.Rev, d.meta.Head, syncd.ErrConflict)
	case d.snap != nil && sn.Rev < d.snapRev:
		// Only the newest snapshot is kept; an older one adds nothing.
		return nil
	}
	d.snapRev = sn.Rev
	d.snap = bytes.Clone(sn.State)
	if d.snap == nil {
		d.snap = []byte{} // non-nil marks "has a snapshot"
	}
	o.touch(sn.Doc)
	return nil
}

// ApplyDelete implements [syncd.RecordApplier].
func (o *overlay) ApplyDelete(dl *syncd.DeleteRecord) error {
	if o.get(dl.Doc) != nil {
		o.docs[dl.Doc] = nil
	}
	return nil
}

// advance raises client's watermark to the request id of o if that is
// higher, copying the shared marks map first, and records o among the
// client's outcomes.
func (d *document) advance(client string, o revision.Outcome) {
	old := d.marks[client]
	next := old.Advance(o.ReqID)
	if next == old {
		return
	}
	d.addOutcome(client, o)
	if !d.marksOwned {
		d.marks = maps.Clone(d.marks)
		d.marksOwned = true
	}
	if d.marks == nil {
		d.marks = make(map[string]revision.Watermark)
	}
	d.marks[client] = next
}

// trim applies retention to d's log (see trimStart).
func (d *document) trim(retention int) {
	start, ok := syncd.TrimStart(d.meta.First, d.meta.Head, d.snapRev, retention)
	if !ok {
		return
	}
	// Copy rather than reslice, so the trimmed ops can be collected; the
	// chunking in trimStart makes the copy amortised O(1) per append.
	d.ops = append([]*syncd.Op(nil), d.ops[start-d.meta.First:]...)
	d.meta.First = start
}
