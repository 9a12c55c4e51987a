package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd/revision"
)

// What the maintenance commands (syncd backup, restore, inspect, compact)
// need of a database file that no server has open: reading it without
// writing, checking it, rewriting it smaller, and giving a restored copy
// new epochs. They live here because only this package knows bbolt and
// the layout.

// OpenReadOnly opens the file at path for reading only: nothing is written
// (a layout-1 file is not upgraded; it is refused). It takes bbolt's shared
// lock, so it fails with ErrLocked while a server has the file open, and a
// server cannot open the file while this Store is open. Commit fails.
func OpenReadOnly(path string, opts Options) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	// What the write-ahead log holds beyond the file (after a crash) is
	// part of the database: apply it first, so that the reader sees it.
	if err := applyLogTail(path, opts); errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, ErrLocked)
	} else if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		timeout = 0 // bbolt: wait forever, as Options.Timeout says
	}
	db, err := openLocked(path, &bbolt.Options{
		ReadOnly: true,
		Timeout:  timeout,
		// Check needs the freelist; the file does not hold one
		// (NoFreelistSync), so it is rebuilt by a scan.
		PreLoadFreelist: true,
		FreelistType:    bbolt.FreelistMapType,
	})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		info := tx.Bucket(bucketInfo)
		if info == nil {
			return errors.New("not a syncd database (no info bucket)")
		}
		if v := info.Get(keyLayout); len(v) != 1 || v[0] != layoutV2 {
			return fmt.Errorf("layout version %v: this command reads layout %d (start syncd on the file once to upgrade it)", v, layoutV2)
		}
		for _, name := range [][]byte{bucketMeta, bucketSnap, bucketOps, bucketMarks, bucketJournal} {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("not a syncd database (no %s bucket)", name)
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	return &Store{db: db, path: path, retention: DefaultRetention, journalOps: DefaultJournalOps}, nil
}

// Check verifies the whole file: bbolt's own consistency check of every
// page, then every document loads (its meta, snapshot and operations
// decode, and the log has no gaps). It returns the number of documents.
func (s *Store) Check(ctx context.Context) (int, error) {
	err := s.db.View(func(tx *bbolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			if len(errs) < 10 {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: check %s: %w", s.path, err)
	}
	n := 0
	after := ""
	for {
		metas, err := s.List(ctx, after, 1000)
		if err != nil {
			return n, fmt.Errorf("boltstore: check %s: %w", s.path, err)
		}
		for _, m := range metas {
			if _, err := s.Load(ctx, m.Doc); err != nil {
				return n, fmt.Errorf("boltstore: check %s: document %q: %w", s.path, m.Doc, err)
			}
			n++
		}
		if len(metas) < 1000 {
			return n, nil
		}
		after = metas[len(metas)-1].Doc
	}
}

// Verify opens the file at path read-only and checks it (see Check). It
// returns the number of documents.
func Verify(ctx context.Context, path string) (int, error) {
	s, err := OpenReadOnly(path, Options{})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	return s.Check(ctx)
}

// Compact rewrites the file at path into a new file holding only live
// pages, checks it, and puts it in place of the old one with a rename, so
// that a crash leaves either file whole. It holds the old file's lock
// until the rename, so no server opens the old file meanwhile; it fails
// with ErrLocked if a server has it open. It returns the sizes before and
// after; when the copy is no smaller, the file is left as it was and both
// are the same.
func Compact(ctx context.Context, path string) (before, after int64, err error) {
	src, err := OpenReadOnly(path, Options{})
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	st, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	before = st.Size()
	tmp := path + ".compact"
	_ = os.Remove(tmp) // a leftover of an interrupted run
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		return before, 0, fmt.Errorf("boltstore: compact: %w", err)
	}
	// 64 MiB per transaction keeps the copy's memory bounded on a large
	// file.
	err = bbolt.Compact(dst, src.db, 64<<20)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		_, err = Verify(ctx, tmp)
	}
	if err == nil {
		err = syncFile(tmp)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return before, 0, fmt.Errorf("boltstore: compact %s: %w", path, err)
	}
	// A file with little free space can come out larger (bbolt grows a
	// new file in steps); then the old one stays.
	if tst, err := os.Stat(tmp); err == nil && tst.Size() >= before {
		_ = os.Remove(tmp)
		return before, before, nil
	}
	if err := ReplaceFile(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return before, 0, err
	}
	st, err = os.Stat(path)
	if err != nil {
		return before, 0, err
	}
	return before, st.Size(), nil
}

// RenewEpochs gives every document of the file at path a new epoch and
// drops its watermarks and outcomes, in one transaction, and returns how many
// documents it changed. A restored database needs it: clients that saw
// the old history past the backup must not be served deltas over a
// different one (a new epoch makes them take a snapshot), and watermarks
// belong to the epoch they were decided in (PROTOCOL.md §6.7). It first
// moves the journal into the logs, since journal entries raise
// watermarks. The file must not be open elsewhere.
func RenewEpochs(path string, newEpoch func() revision.Epoch) (int, error) {
	s, err := Open(path, Options{})
	if errors.Is(err, bbolt.ErrTimeout) {
		return 0, fmt.Errorf("boltstore: open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return 0, err
	}
	defer s.Close()
	n := 0
	err = s.db.Update(func(tx *bbolt.Tx) error {
		w := writer{
			tx: tx, meta: tx.Bucket(bucketMeta), snap: tx.Bucket(bucketSnap),
			ops: tx.Bucket(bucketOps), marks: tx.Bucket(bucketMarks),
			retention: s.retention, journalOps: s.journalOps,
			docs: make(map[string]*docState), spare: &s.spare, metas: &metaCache{},
		}
		if err := w.checkpoint(); err != nil {
			return err
		}
		if err := w.finish(); err != nil {
			return err
		}
		// The metas as finish left them, then each with a new epoch.
		// Keys are collected first: a bucket must not change under its
		// cursor.
		var docs [][]byte
		if err := w.meta.ForEach(func(k, _ []byte) error {
			docs = append(docs, append([]byte(nil), k...))
			return nil
		}); err != nil {
			return err
		}
		for _, doc := range docs {
			m, err := decodeMeta(w.meta.Get(doc))
			if err != nil {
				return fmt.Errorf("meta of %q: %w", doc, err)
			}
			m.Epoch = newEpoch()
			if err := w.meta.Put(doc, encodeMeta(m)); err != nil {
				return err
			}
			if err := w.marks.DeleteBucket(doc); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
				return err
			}
			// Outcomes belong to the epoch too: the new one starts
			// without any (syncd.Store.Outcomes).
			if err := tx.Bucket(bucketOutcomes).DeleteBucket(doc); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: renew epochs in %s: %w", path, err)
	}
	if err := s.Close(); err != nil {
		return 0, err
	}
	// Close applied the log; a restored copy goes without one.
	return n, RemoveLogFiles(path)
}

// ReplaceFile renames tmp over path and makes the rename durable (an fsync
// of the directory), so a crash leaves the old file or the new one whole.
// tmp must be in path's directory and already synced.
func ReplaceFile(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncFile(filepath.Dir(path))
}

// syncFile fsyncs a file or a directory.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
