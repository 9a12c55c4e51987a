package boltstore

import (
	"bytes"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// CheckFile opens the bbolt file at path read-only (the store must be
// closed) and checks what the Store interface cannot see: bbolt's own page
// consistency, and that the buckets hold exactly what the metas describe,
// each op under the key of its own revision, with no orphaned data of a
// deleted document.
func CheckFile(path string) error {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: DefaultTimeout})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(checkTx)
}

func checkTx(tx *bbolt.Tx) error {
	var errs []error
	for err := range tx.Check() {
		errs = append(errs, fmt.Errorf("bbolt: %w", err))
	}
	if v := tx.Bucket(bucketInfo).Get(keyLayout); !bytes.Equal(v, []byte{layoutV1}) {
		errs = append(errs, fmt.Errorf("layout version %v", v))
	}
	metas := make(map[string]*meta)
	err := tx.Bucket(bucketMeta).ForEach(func(k, v []byte) error {
		m, err := decodeMeta(v)
		if err != nil {
			return fmt.Errorf("meta of %q: %w", k, err)
		}
		metas[string(k)] = m
		return nil
	})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for doc, m := range metas {
		if err := checkDocData(tx, doc, m); err != nil {
			errs = append(errs, fmt.Errorf("document %q: %w", doc, err))
		}
	}
	// Nothing may outlive its document.
	for _, name := range [][]byte{bucketSnap, bucketOps, bucketMarks} {
		err := tx.Bucket(name).ForEach(func(k, _ []byte) error {
			if metas[string(k)] == nil {
				return fmt.Errorf("bucket %s holds %q, which has no meta", name, k)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func checkDocData(tx *bbolt.Tx, doc string, m *meta) error {
	key := []byte(doc)
	if v := tx.Bucket(bucketSnap).Get(key); v != nil {
		rev, _, err := decodeSnapshot(v)
		if err != nil {
			return err
		}
		if rev != m.SnapRev {
			return fmt.Errorf("snapshot at %d, meta says %d", rev, m.SnapRev)
		}
	} else if m.SnapRev != 0 {
		return fmt.Errorf("no snapshot, meta says one at %d", m.SnapRev)
	}
	want := m.First
	if ops := tx.Bucket(bucketOps).Bucket(key); ops != nil {
		err := ops.ForEach(func(k, v []byte) error {
			rev, err := keyRev(k)
			if err != nil {
				return err
			}
			if rev != want {
				return fmt.Errorf("op key %d, want %d (log %d…%d)", rev, want, m.First, m.Head)
			}
			op, err := decodeOp(v)
			if err != nil {
				return err
			}
			if op.Rev != rev {
				return fmt.Errorf("op under key %d says rev %d", rev, op.Rev)
			}
			want++
			return nil
		})
		if err != nil {
			return err
		}
	} else if tx.Bucket(bucketOps).Get(key) != nil {
		return errors.New("ops entry is not a bucket")
	}
	if want != m.Head+1 {
		return fmt.Errorf("log ends at %d, head is %d", want-1, m.Head)
	}
	if marks := tx.Bucket(bucketMarks).Bucket(key); marks != nil {
		return marks.ForEach(func(k, v []byte) error {
			_, err := decodeMark(v)
			return err
		})
	}
	return nil
}
