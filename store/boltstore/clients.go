package boltstore

import (
	"context"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd"
)

// Client records ([syncd.Store.ClaimClient]) live in a bucket of their own,
// client id → record, created by the first claim that writes one (so files
// written before it existed need no upgrade). A record's value is
// encodingV1 | owner | attempt, both length-prefixed strings.
var bucketClients = []byte("clients")

// ClaimClient implements [syncd.Store.ClaimClient]. Most claims change
// nothing (an authenticated client reconnecting without an attempt value),
// and a read transaction answers them. A claim that changes the record is
// written with bbolt's Batch, which coalesces the claims of concurrent
// connection attempts into one transaction and one fsync, so a crowd of
// clients reconnecting after a restart does not pay one fsync each; the
// claim is decided again inside that transaction, against the record as it
// then stands.
func (s *Store) ClaimClient(ctx context.Context, claim syncd.ClientClaim) (syncd.ClientRecord, error) {
	if err := claim.Validate(); err != nil {
		return syncd.ClientRecord{}, err
	}
	key := []byte(claim.ClientID)
	var stored syncd.ClientRecord
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		stored, err = getClient(tx.Bucket(bucketClients), key)
		return err
	})
	if err != nil {
		return syncd.ClientRecord{}, wrapErr("claim client", err)
	}
	// Records only move forward (an owner, once bound, stays; the attempt
	// only rises), so a refusal or a no-op decided on a committed read
	// stands.
	next, refused := stored.Check(claim)
	if refused != nil || next == stored {
		return next, refused
	}
	// Batch may run fn more than once (a failed batch is retried one fn at
	// a time), so fn sets its results afresh each run.
	err = s.db.Batch(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketClients)
		if err != nil {
			return err
		}
		cur, err := getClient(b, key)
		if err != nil {
			return err
		}
		next, refused = cur.Check(claim)
		if refused != nil || next == cur {
			return nil
		}
		return b.Put(key, encodeClient(next))
	})
	if err != nil {
		return syncd.ClientRecord{}, wrapErr("claim client", err)
	}
	return next, refused
}

// getClient reads a client's record from b (nil: no record yet).
func getClient(b *bbolt.Bucket, key []byte) (syncd.ClientRecord, error) {
	if b == nil {
		return syncd.ClientRecord{}, nil
	}
	v := b.Get(key)
	if v == nil {
		return syncd.ClientRecord{}, nil
	}
	return decodeClient(v)
}

func encodeClient(r syncd.ClientRecord) []byte {
	b := make([]byte, 0, 3+len(r.Owner)+len(r.Attempt))
	b = append(b, encodingV1)
	b = appendString(b, r.Owner)
	return appendString(b, r.Attempt)
}

func decodeClient(v []byte) (syncd.ClientRecord, error) {
	d := decoder{buf: v, what: "client record"}
	d.versionIs(encodingV1)
	r := syncd.ClientRecord{Owner: d.string(), Attempt: d.string()}
	d.end()
	if d.err != nil {
		return syncd.ClientRecord{}, d.err
	}
	return r, nil
}
