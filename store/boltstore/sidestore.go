package boltstore

import (
	"bytes"
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd"
)

// The side store (syncd.SideStore) lives in one more top-level bucket,
// created by the first write so that files which never use it are
// unchanged:
//
//	side     space → bucket { key → value }          server state beside the documents
//
// Its writes are read-write transactions of their own, never part of a
// Commit: they only share bbolt's one writer with it.
var bucketSide = []byte("side")

var _ syncd.SideStore = (*Store)(nil)

// SideGet implements syncd.SideStore.
func (s *Store) SideGet(ctx context.Context, space, key string) ([]byte, error) {
	var out []byte
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := sideSpace(tx, space)
		if b == nil {
			return syncd.ErrNotFound
		}
		v := b.Get([]byte(key))
		if v == nil {
			return syncd.ErrNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	if err == syncd.ErrNotFound {
		return nil, err
	}
	return out, wrapErr("side get", err)
}

// SideWrite implements syncd.SideStore: one read-write transaction.
func (s *Store) SideWrite(ctx context.Context, writes []syncd.SideWrite) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(writes) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketSide)
		if err != nil {
			return err
		}
		for _, w := range writes {
			if w.Space == "" || w.Key == "" {
				return fmt.Errorf("side write needs a space and a key (space %q, key %q)", w.Space, w.Key)
			}
			b, err := root.CreateBucketIfNotExists([]byte(w.Space))
			if err != nil {
				return err
			}
			if w.Value == nil {
				err = b.Delete([]byte(w.Key))
			} else {
				// bbolt keeps the slice until the transaction commits;
				// the caller may reuse its own after we return.
				err = b.Put([]byte(w.Key), bytes.Clone(w.Value))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return wrapErr("side write", err)
}

// SideScan implements syncd.SideStore.
func (s *Store) SideScan(ctx context.Context, space, after string, limit int) ([]syncd.SideEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("boltstore: side scan: limit %d, want > 0", limit)
	}
	var out []syncd.SideEntry
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := sideSpace(tx, space)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			out = append(out, syncd.SideEntry{Key: string(k), Value: bytes.Clone(v)})
		}
		return nil
	})
	return out, wrapErr("side scan", err)
}

func sideSpace(tx *bbolt.Tx, space string) *bbolt.Bucket {
	root := tx.Bucket(bucketSide)
	if root == nil {
		return nil
	}
	return root.Bucket([]byte(space))
}
