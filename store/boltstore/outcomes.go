package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd/revision"
)

// Outcomes live in their own top-level bucket, one sub-bucket per document
// like the watermarks (so that deleting a document drops them in one bucket
// delete):
//
//	outcomes  doc → bucket { clientID → outcome list }
//
// They are written in the commit that decides them, not through the
// journal: a client's list is rewritten once per batch that decides one of
// its ids (one Get and one Put per client and document in the batch).
// Files written before outcomes existed get the bucket on open and simply
// have no outcomes for the decisions made before.
var bucketOutcomes = []byte("outcomes")

// Outcomes implements [syncd.Store.Outcomes].
func (s *Store) Outcomes(ctx context.Context, doc, clientID string) ([]revision.Outcome, error) {
	if err := s.awaitApplied(ctx, doc); err != nil {
		return nil, wrapErr("outcomes", err)
	}
	var outs []revision.Outcome
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		top := tx.Bucket(bucketOutcomes)
		if top == nil {
			return nil
		}
		b := top.Bucket([]byte(doc))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(clientID))
		if v == nil {
			return nil
		}
		var err error
		outs, err = decodeOutcomes(v)
		if err != nil {
			return fmt.Errorf("outcomes of %q in %q: %w", clientID, doc, err)
		}
		return nil
	})
	return outs, wrapErr("outcomes", err)
}

// outcomeWriter is what one Commit batch does to outcomes: the lists it
// has read or changed, by document and client, written once in flush.
type outcomeWriter struct {
	lists map[string]map[string]*outcomeList // doc → client → list
	order []string                           // docs in first-touch order
}

type outcomeList struct {
	outs    []revision.Outcome
	changed bool
}

// record adds o to client's outcomes in doc, if its request id is above
// the newest one there: outcomes follow the watermark, which only rises.
func (ow *outcomeWriter) record(tx *bbolt.Tx, doc, client string, o revision.Outcome) error {
	if len(client) > bbolt.MaxKeySize {
		return fmt.Errorf("%w: client id of %d bytes", errMalformed, len(client))
	}
	byClient := ow.lists[doc]
	if byClient == nil {
		if ow.lists == nil {
			ow.lists = make(map[string]map[string]*outcomeList)
		}
		byClient = make(map[string]*outcomeList)
		ow.lists[doc] = byClient
		ow.order = append(ow.order, doc)
	}
	l := byClient[client]
	if l == nil {
		l = &outcomeList{}
		if b := tx.Bucket(bucketOutcomes).Bucket([]byte(doc)); b != nil {
			if v := b.Get([]byte(client)); v != nil {
				var err error
				if l.outs, err = decodeOutcomes(v); err != nil {
					return fmt.Errorf("outcomes of %q in %q: %w", client, doc, err)
				}
			}
		}
		byClient[client] = l
	}
	if n := len(l.outs); n > 0 && revision.CompareReqID(o.ReqID, l.outs[n-1].ReqID) <= 0 {
		return nil
	}
	l.add(o)
	l.changed = true
	return nil
}

// add appends o, keeping the newest revision.MaxOutcomes. The list is the
// writer's own for the transaction, so a full list keeps room behind its
// end and moves forward by reslicing: a new array (and a copy) every
// MaxOutcomes outcomes, not every one, which the applier's profile showed
// (each of a busy client's operations copied its 31 older outcomes).
func (l *outcomeList) add(o revision.Outcome) {
	if len(l.outs) < revision.MaxOutcomes {
		l.outs = append(l.outs, o)
		return
	}
	if len(l.outs) == cap(l.outs) {
		next := make([]revision.Outcome, revision.MaxOutcomes-1, 2*revision.MaxOutcomes)
		copy(next, l.outs[1:])
		l.outs = append(next, o)
		return
	}
	l.outs = append(l.outs[1:], o)
}

// drop forgets what the batch recorded for doc: its data was deleted.
func (ow *outcomeWriter) drop(tx *bbolt.Tx, doc []byte) error {
	delete(ow.lists, string(doc))
	err := tx.Bucket(bucketOutcomes).DeleteBucket(doc)
	if err != nil && err != bbolt.ErrBucketNotFound {
		return err
	}
	return nil
}

// flush writes the lists the batch changed.
func (ow *outcomeWriter) flush(tx *bbolt.Tx) error {
	top := tx.Bucket(bucketOutcomes)
	for _, doc := range ow.order {
		byClient := ow.lists[doc]
		var b *bbolt.Bucket
		for client, l := range byClient {
			if !l.changed {
				continue
			}
			if b == nil {
				var err error
				if b, err = top.CreateBucketIfNotExists([]byte(doc)); err != nil {
					return err
				}
			}
			if err := b.Put([]byte(client), encodeOutcomes(l.outs)); err != nil {
				return err
			}
		}
	}
	return nil
}

// encodeOutcomes: v1 | count | count × (request id | rev | code), the
// request id and the code length-prefixed, the rev a uvarint (0 for a
// refusal).
func encodeOutcomes(outs []revision.Outcome) []byte {
	b := []byte{encodingV1}
	b = binary.AppendUvarint(b, uint64(len(outs)))
	for _, o := range outs {
		b = binary.AppendUvarint(b, uint64(len(o.ReqID)))
		b = append(b, o.ReqID...)
		b = binary.AppendUvarint(b, uint64(o.Rev))
		b = binary.AppendUvarint(b, uint64(len(o.Code)))
		b = append(b, o.Code...)
	}
	return b
}

func decodeOutcomes(v []byte) ([]revision.Outcome, error) {
	d := decoder{buf: v, what: "outcomes"}
	d.version()
	n := d.uvarint()
	// A list longer than MaxOutcomes (written by a build that kept more)
	// is read and cut to the newest; only an absurd count is corrupt.
	if d.err == nil && n > maxStoredOutcomes {
		d.fail("%d outcomes, at most %d", n, maxStoredOutcomes)
	}
	var outs []revision.Outcome
	for i := uint64(0); i < n && d.err == nil; i++ {
		o := revision.Outcome{ReqID: d.string(), Rev: revision.Rev(d.uvarint()), Code: d.string()}
		if d.err == nil && o.ReqID == "" {
			d.fail("outcome %d without a request id", i)
		}
		outs = append(outs, o)
	}
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	if len(outs) > revision.MaxOutcomes {
		outs = outs[len(outs)-revision.MaxOutcomes:]
	}
	return outs, nil
}

// maxStoredOutcomes bounds the count decodeOutcomes accepts.
const maxStoredOutcomes = 4096
