package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// Load implements [syncd.Store.Load]: three lookups and one cursor scan in
// one read transaction, so the result is one consistent state.
func (s *Store) Load(ctx context.Context, doc string) (*syncd.StoredDoc, error) {
	if err := s.awaitApplied(ctx, doc); err != nil {
		return nil, wrapErr("load", err)
	}
	var out *syncd.StoredDoc
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		m, err := getMeta(tx, doc)
		if err != nil {
			return err
		}
		if m == nil {
			return fmt.Errorf("%q: %w", doc, syncd.ErrNotFound)
		}
		sd := &syncd.StoredDoc{Meta: m.docMeta(doc), SnapshotRev: m.SnapRev}
		if v := tx.Bucket(bucketSnap).Get([]byte(doc)); v != nil {
			rev, state, err := decodeSnapshot(v)
			if err != nil {
				return fmt.Errorf("snapshot of %q: %w", doc, err)
			}
			if rev != m.SnapRev {
				return fmt.Errorf("%w: snapshot of %q is at %d, meta says %d", errCorrupt, doc, rev, m.SnapRev)
			}
			sd.SnapshotState = state
		} else if m.SnapRev != 0 {
			return fmt.Errorf("%w: snapshot of %q at %d is missing", errCorrupt, doc, m.SnapRev)
		}
		sd.Tail, err = readRange(tx, doc, m, m.SnapRev, math.MaxInt)
		out = sd
		return err
	})
	if err != nil {
		return nil, wrapErr("load", err)
	}
	return out, nil
}

// ReadOps implements [syncd.Store.ReadOps]: a cursor range scan of the
// document's op bucket. A limit below 1 is an error; an after at or beyond
// the head gives an empty result.
func (s *Store) ReadOps(ctx context.Context, doc string, epoch revision.Epoch, after revision.Rev, limit int) ([]*syncd.Op, error) {
	if limit < 0 {
		return nil, fmt.Errorf("boltstore: read ops of %q: limit %d, want >= 0", doc, limit)
	}
	if err := s.awaitApplied(ctx, doc); err != nil {
		return nil, wrapErr("read ops", err)
	}
	var out []*syncd.Op
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		m, err := getMeta(tx, doc)
		switch {
		case err != nil:
			return err
		case m == nil || m.Epoch != epoch:
			return fmt.Errorf("%q@%s: %w", doc, epoch, syncd.ErrNotFound)
		case after >= m.Head:
			return nil
		case after+1 < m.First:
			return fmt.Errorf("%q after %d: oldest kept is %d: %w", doc, after, m.First, syncd.ErrGone)
		case limit == 0:
			return nil // held: that is all that was asked
		}
		out, err = readRange(tx, doc, m, after, limit)
		return err
	})
	if err != nil {
		return nil, wrapErr("read ops", err)
	}
	return out, nil
}

// readRange returns the ops after+1 … m.Head of doc, at most limit of them:
// from its log bucket up to m.logEnd(), then from the journal. It reports a
// gap or a mismatched revision as corruption: the caller has checked
// against the meta that they must all be there.
func readRange(tx *bbolt.Tx, doc string, m *meta, after revision.Rev, limit int) ([]*syncd.Op, error) {
	if after >= m.Head {
		return nil, nil
	}
	n := uint64(m.Head - after)
	if uint64(limit) < n {
		n = uint64(limit)
	}
	// Preallocate for a page, not for n: n comes from the meta, which on a
	// damaged file could claim any number.
	out := make([]*syncd.Op, 0, min(n, 1024))
	want := after + 1
	// take decodes the op want and adds it to out.
	take := func(rev revision.Rev, enc []byte) error {
		op, err := decodeOp(enc)
		if err != nil {
			return fmt.Errorf("op %d of %q: %w", rev, doc, err)
		}
		out = append(out, op)
		want++
		return nil
	}
	if end := m.logEnd(); want <= end {
		b := tx.Bucket(bucketOps).Bucket([]byte(doc))
		if b == nil {
			return nil, fmt.Errorf("%w: ops of %q are missing", errCorrupt, doc)
		}
		// The run holding want is the last one whose key (its first
		// revision) is at most want.
		c := b.Cursor()
		k, v := c.Seek(revKey(want))
		if k == nil {
			k, v = c.Last()
		} else if first, err := keyRev(k); err != nil {
			return nil, err
		} else if first > want {
			k, v = c.Prev()
		}
		for ; k != nil && uint64(len(out)) < n && want <= end; k, v = c.Next() {
			first, err := keyRev(k)
			if err != nil {
				return nil, err
			}
			if first > want {
				return nil, fmt.Errorf("%w: op %d of %q is missing (next is %d)", errCorrupt, want, doc, first)
			}
			check := checkRun{doc: doc, want: first}
			err = eachLogOp(v, func(rev revision.Rev, enc []byte) (bool, error) {
				if err := check.next(rev); err != nil {
					return false, err
				}
				if rev < want {
					return true, nil
				}
				if err := take(rev, enc); err != nil {
					return false, err
				}
				return uint64(len(out)) < n && want <= end, nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	if uint64(len(out)) < n && want > m.logEnd() {
		err := scanEntries(tx, []byte(doc), m, func(rev revision.Rev, enc []byte) (bool, error) {
			if rev < want {
				return true, nil
			}
			if err := take(rev, enc); err != nil {
				return false, err
			}
			return uint64(len(out)) < n, nil
		})
		if err != nil {
			return nil, err
		}
	}
	if uint64(len(out)) < n {
		return nil, fmt.Errorf("%w: op %d of %q is missing", errCorrupt, want, doc)
	}
	return out, nil
}

// Watermark implements [syncd.Store.Watermark]: the stored watermark,
// raised by the request ids of the client's operations still in the
// journal.
func (s *Store) Watermark(ctx context.Context, doc, clientID string) (revision.Watermark, error) {
	if err := s.awaitApplied(ctx, doc); err != nil {
		return revision.Watermark{}, wrapErr("watermark", err)
	}
	var w revision.Watermark
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketMarks).Bucket([]byte(doc)); b != nil {
			if v := b.Get([]byte(clientID)); v != nil {
				var err error
				if w, err = decodeMark(v); err != nil {
					return err
				}
			}
		}
		m, err := getMeta(tx, doc)
		if err != nil || m == nil {
			return err
		}
		client := []byte(clientID)
		return scanEntries(tx, []byte(doc), m, func(rev revision.Rev, enc []byte) (bool, error) {
			_, c, req, err := opHeader(enc)
			// As at a checkpoint (move): an op without a client id or a
			// request id decides nothing.
			if err == nil && len(c) > 0 && len(req) > 0 && bytes.Equal(c, client) {
				w = w.Advance(string(req))
			}
			return true, err
		})
	})
	return w, wrapErr("watermark", err)
}

// List implements [syncd.Store.List]: a cursor scan of the meta bucket,
// whose keys are the document ids. A limit below 1 is an error.
func (s *Store) List(ctx context.Context, after string, limit int) ([]syncd.DocMeta, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("boltstore: list: limit %d, want > 0", limit)
	}
	if err := s.awaitApplied(ctx, ""); err != nil {
		return nil, wrapErr("list", err)
	}
	var out []syncd.DocMeta
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketMeta).Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && bytes.Equal(k, []byte(after)) {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			m, err := decodeMeta(v)
			if err != nil {
				return fmt.Errorf("meta of %q: %w", k, err)
			}
			out = append(out, m.docMeta(string(k)))
		}
		return nil
	})
	if err != nil {
		return nil, wrapErr("list", err)
	}
	return out, nil
}

// getMeta returns the meta of doc, or nil if it does not exist.
func getMeta(tx *bbolt.Tx, doc string) (*meta, error) {
	v := tx.Bucket(bucketMeta).Get([]byte(doc))
	if v == nil {
		return nil, nil
	}
	m, err := decodeMeta(v)
	if err != nil {
		return nil, fmt.Errorf("meta of %q: %w", doc, err)
	}
	return m, nil
}
