package boltstore

import (
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// Commit acknowledges a batch once it is in the log, before bbolt has it,
// so it must decide then what the writer (commit.go) would decide later:
// whether each record is well formed and agrees with the document's state
// (ErrConflict otherwise). batchCheck makes that decision against the
// state the log has reached, kept as one logMeta per document: the part of
// a meta the checks read. The applier then applies records that cannot
// fail, short of a broken disk.

// logMeta is what the checks need of a document; exists false means
// absent (never created, or deleted).
type logMeta struct {
	exists  bool
	epoch   revision.Epoch
	head    revision.Rev
	snapRev revision.Rev
}

// logMetas holds the logMeta of the documents checked recently. Entries of
// documents with records still waiting for the applier are authoritative
// (bbolt lags behind them) and are never dropped; any other entry equals
// bbolt's meta, so dropping it only costs a lookup.
type logMetas struct {
	m map[string]logMeta
}

// batchCheck checks one batch; its changes reach logMetas only when the
// batch is logged (commit).
type batchCheck struct {
	metas   *logMetas
	db      *bbolt.DB
	changed map[string]logMeta
	order   []string
}

func (c *batchCheck) get(doc string) (logMeta, error) {
	if m, ok := c.changed[doc]; ok {
		return m, nil
	}
	if m, ok := c.metas.m[doc]; ok {
		return m, nil
	}
	if doc == "" || len(doc) > bbolt.MaxKeySize {
		return logMeta{}, fmt.Errorf("%w: document id of %d bytes", errMalformed, len(doc))
	}
	var lm logMeta
	err := c.db.View(func(tx *bbolt.Tx) error {
		m, err := getMeta(tx, doc)
		if err != nil || m == nil {
			return err
		}
		lm = logMeta{exists: true, epoch: m.Epoch, head: m.Head, snapRev: m.SnapRev}
		return nil
	})
	return lm, err
}

func (c *batchCheck) set(doc string, m logMeta) {
	if c.changed == nil {
		c.changed = make(map[string]logMeta)
	}
	if _, ok := c.changed[doc]; !ok {
		c.order = append(c.order, doc)
	}
	c.changed[doc] = m
}

// check decides rec as writer.apply would, and records its effect.
func (c *batchCheck) check(rec syncd.Record) error {
	if err := rec.Check(); err != nil {
		return fmt.Errorf("%w: %w", errMalformed, err)
	}
	switch {
	case rec.Create != nil:
		cr := rec.Create
		if cr.Epoch == "" {
			return fmt.Errorf("%w: create %q without an epoch", errMalformed, cr.Doc)
		}
		m, err := c.get(cr.Doc)
		if err != nil {
			return err
		}
		if m.exists {
			return fmt.Errorf("create %q: exists with epoch %s: %w", cr.Doc, m.epoch, syncd.ErrConflict)
		}
		c.set(cr.Doc, logMeta{exists: true, epoch: cr.Epoch})
	case rec.Append != nil:
		a := rec.Append
		if a.Op == nil {
			return fmt.Errorf("%w: append to %q without an op", errMalformed, a.Doc)
		}
		m, err := c.get(a.Doc)
		if err != nil {
			return err
		}
		switch {
		case !m.exists:
			return fmt.Errorf("append to %q: no such document: %w", a.Doc, syncd.ErrConflict)
		case m.epoch != a.Epoch:
			return fmt.Errorf("append to %q: epoch %s, document has %s: %w", a.Doc, a.Epoch, m.epoch, syncd.ErrConflict)
		case a.Op.Rev != m.head+1:
			return fmt.Errorf("append to %q: rev %d, head is %d: %w", a.Doc, a.Op.Rev, m.head, syncd.ErrConflict)
		}
		if len(a.Op.ClientID) > bbolt.MaxKeySize {
			return fmt.Errorf("%w: client id of %d bytes", errMalformed, len(a.Op.ClientID))
		}
		m.head = a.Op.Rev
		c.set(a.Doc, m)
	case rec.Decide != nil:
		d := rec.Decide
		if d.ClientID == "" || d.ReqID == "" {
			return fmt.Errorf("%w: decide in %q needs a client id and a request id", errMalformed, d.Doc)
		}
		m, err := c.get(d.Doc)
		if err != nil || !m.exists {
			return err
		}
		if len(d.ClientID) > bbolt.MaxKeySize {
			return fmt.Errorf("%w: client id of %d bytes", errMalformed, len(d.ClientID))
		}
	case rec.Snapshot != nil:
		sn := rec.Snapshot
		m, err := c.get(sn.Doc)
		if err != nil {
			return err
		}
		switch {
		case !m.exists:
			return fmt.Errorf("snapshot of %q: no such document: %w", sn.Doc, syncd.ErrConflict)
		case m.epoch != sn.Epoch:
			return fmt.Errorf("snapshot of %q: epoch %s, document has %s: %w", sn.Doc, sn.Epoch, m.epoch, syncd.ErrConflict)
		case sn.Rev > m.head:
			return fmt.Errorf("snapshot of %q: rev %d is beyond the head %d: %w", sn.Doc, sn.Rev, m.head, syncd.ErrConflict)
		}
		if sn.Rev >= m.snapRev {
			m.snapRev = sn.Rev
			c.set(sn.Doc, m)
		}
	default:
		if _, err := c.get(rec.Delete.Doc); err != nil {
			return err
		}
		c.set(rec.Delete.Doc, logMeta{})
	}
	return nil
}

// batchDocs appends the documents the batch touches to into, for the read
// barrier; a document is listed once per run of its records in a row.
func batchDocs(batch []syncd.Record, into []string) []string {
	for _, rec := range batch {
		var doc string
		switch {
		case rec.Create != nil:
			doc = rec.Create.Doc
		case rec.Append != nil:
			doc = rec.Append.Doc
		case rec.Decide != nil:
			doc = rec.Decide.Doc
		case rec.Snapshot != nil:
			doc = rec.Snapshot.Doc
		case rec.Delete != nil:
			doc = rec.Delete.Doc
		}
		if n := len(into); n > 0 && into[n-1] == doc {
			continue
		}
		into = append(into, doc)
	}
	return into
}

// maxLogMetas bounds logMetas: past it, the entries that only repeat
// bbolt are dropped.
const maxLogMetas = 100_000

// commit makes the checked batch's effects part of the logged state.
func (c *batchCheck) commit(pending map[string]uint64) {
	if c.metas.m == nil {
		c.metas.m = make(map[string]logMeta)
	}
	if len(c.metas.m) >= maxLogMetas {
		for doc := range c.metas.m {
			if _, ok := pending[doc]; !ok {
				delete(c.metas.m, doc)
			}
		}
	}
	for _, doc := range c.order {
		c.metas.m[doc] = c.changed[doc]
	}
}
