package boltstore

import (
	"bytes"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd/revision"
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
	if v := tx.Bucket(bucketInfo).Get(keyLayout); !bytes.Equal(v, []byte{layoutV2}) {
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
	// Every journal entry decodes, live or dead.
	err = tx.Bucket(bucketJournal).ForEach(func(k, v []byte) error {
		if _, err := keySeq(k); err != nil {
			return err
		}
		_, run, err := entryDoc(v)
		if err == nil {
			err = eachRunOp(run, func(_ revision.Rev, enc []byte) (bool, error) {
				_, err := decodeOp(enc)
				return err == nil, err
			})
		}
		if err != nil {
			return fmt.Errorf("journal entry %x: %w", k, err)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	// Nothing may outlive its document (but dead journal entries, until
	// the next checkpoint).
	for _, name := range [][]byte{bucketSnap, bucketOps, bucketMarks, bucketOutcomes} {
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
			first, err := keyRev(k)
			if err != nil {
				return err
			}
			if first != want {
				return fmt.Errorf("run key %d, want %d (log %d…%d)", first, want, m.First, m.logEnd())
			}
			return eachLogOp(v, func(rev revision.Rev, enc []byte) (bool, error) {
				if rev != want {
					return false, fmt.Errorf("op %d in the run at %d, want %d", rev, first, want)
				}
				if _, err := decodeOp(enc); err != nil {
					return false, err
				}
				want++
				return true, nil
			})
		})
		if err != nil {
			return err
		}
	} else if tx.Bucket(bucketOps).Get(key) != nil {
		return errors.New("ops entry is not a bucket")
	}
	if want != m.logEnd()+1 {
		return fmt.Errorf("log ends at %d, want %d (head %d, journal from %d)", want-1, m.logEnd(), m.Head, m.JRev)
	}
	if err := scanEntries(tx, key, m, func(revision.Rev, []byte) (bool, error) { return true, nil }); err != nil {
		return err
	}
	if marks := tx.Bucket(bucketMarks).Bucket(key); marks != nil {
		err := marks.ForEach(func(k, v []byte) error {
			_, err := decodeMark(v)
			return err
		})
		if err != nil {
			return err
		}
	}
	if outs := tx.Bucket(bucketOutcomes).Bucket(key); outs != nil {
		return outs.ForEach(func(k, v []byte) error {
			_, err := decodeOutcomes(v)
			return err
		})
	}
	return nil
}

// crashForTest stops the store as a crash would: the applier stops without
// applying what is queued and the log's files are closed without a sync.
// bbolt's file is closed normally: every transaction of it that committed
// was synced (the tests that crash open without NoSync for bbolt or do not
// depend on it), and a transaction cut short is bbolt's own concern.
func (s *Store) crashForTest() {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.applierDone
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		_ = s.log.close()
		s.closeErr = s.db.Close()
	})
}
