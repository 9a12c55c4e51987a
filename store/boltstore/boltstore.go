package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd"
)

// Defaults of [Options].
const (
	DefaultRetention  = 100_000
	DefaultTimeout    = time.Second
	DefaultJournalOps = 4096
)

// Options configure [Open]. The zero value means the defaults.
type Options struct {
	// Retention is how many of its newest operations each document's log
	// keeps. Default [DefaultRetention]; a negative value keeps every
	// operation. The log is trimmed in chunks (once it exceeds Retention by
	// a sixteenth, in the commit that crosses that line) and never past
	// the document's newest snapshot, so it may hold more than Retention
	// operations, never fewer while it has them.
	Retention int

	// JournalOps is how many operations the journal holds before a
	// commit moves them into their documents' logs (a checkpoint; see
	// journal.go). Default [DefaultJournalOps]. A larger journal makes
	// checkpoints rarer, which helps commits that span many documents, but
	// lengthens the journal scan of every store read of a document with
	// entries in it (ReadOps, Load, Watermark) and the commit that
	// checkpoints. 1 moves every commit's operations at once.
	JournalOps int

	// NoSync skips the fsync at the end of each commit. It is UNSAFE: a
	// crash of the machine (not only of the process) can lose acknowledged
	// operations or corrupt the file, which breaks syncd's "durable before
	// acknowledged" guarantee. For tests and benchmarks only. Default
	// false.
	NoSync bool

	// Timeout is how long Open waits for the file lock that another
	// process (or another Store in this one) holds. Default
	// [DefaultTimeout]; a negative value waits forever. A server should
	// fail fast rather than hang when a second instance is started on the
	// same data directory.
	Timeout time.Duration

	// InitialMmapSize is the size, in bytes, of the first memory map of the
	// file. Default 0 (bbolt's: the file's size). When a commit grows the
	// file past the mapped size, bbolt remaps it, and a remap waits for
	// every open read transaction (a [Store.Backup] holds one only while
	// it copies the file to its staging file, at disk speed); mapping more
	// than the file needs up front avoids those stalls. The file itself
	// still grows only as data is written.
	InitialMmapSize int
}

// Store is a [syncd.Store] in a bbolt file. Create one with [Open]; its
// methods are safe for concurrent use, though the engine never issues two
// Commits at once (bbolt would serialise them anyway).
type Store struct {
	db         *bbolt.DB
	path       string
	retention  int
	journalOps int
	spare      spareBufs // used inside write transactions only
	metas      metaCache

	closeOnce sync.Once
	closeErr  error

	backupRunning atomic.Bool // one Backup at a time (backup.go)
}

var _ syncd.Store = (*Store)(nil)

// Bucket names; see doc.go for what each holds.
var (
	bucketInfo    = []byte("info")
	bucketMeta    = []byte("meta")
	bucketSnap    = []byte("snap")
	bucketOps     = []byte("ops")
	bucketMarks   = []byte("marks")
	bucketJournal = []byte("journal")

	// keyLayout in bucketInfo holds the layout version, so that a future
	// layout can recognise (and migrate) a file written by this one.
	keyLayout = []byte("layout")
)

// Layout versions. Layout 2 (doc.go) adds the journal to layout 1, whose
// files it opens and upgrades in place: a layout-1 file is a layout-2 file
// with an empty journal.
const (
	layoutV1 = 1
	layoutV2 = 2
)

// Open opens the store in the bbolt file at path, creating the file and its
// buckets if needed. It fails if the file holds another layout, or if the
// file lock is not free within opts.Timeout ([ErrLocked]).
func Open(path string, opts Options) (*Store, error) {
	retention := opts.Retention
	if retention == 0 {
		retention = DefaultRetention
	}
	journalOps := opts.JournalOps
	switch {
	case journalOps == 0:
		journalOps = DefaultJournalOps
	case journalOps < 0:
		return nil, fmt.Errorf("boltstore: open %s: JournalOps %d, want > 0", path, journalOps)
	}
	timeout := opts.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		timeout = 0 // bbolt: wait forever
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: timeout,
		// The map freelist finds a run of free pages in O(1) instead of
		// scanning a sorted array; with 100,000 ops per document the
		// freelist grows large, and trimming frees pages constantly.
		FreelistType: bbolt.FreelistMapType,
		// Not writing the freelist at each commit saves pages on every
		// fsync, which is the write path's whole cost; the price is that
		// Open rebuilds the freelist by scanning the file, a one-time
		// cost at start.
		NoFreelistSync:  true,
		NoSync:          opts.NoSync,
		InitialMmapSize: opts.InitialMmapSize,
	})
	if err != nil {
		return nil, openError(path, timeout, err)
	}
	if err := db.Update(initLayout); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	return &Store{db: db, path: path, retention: retention, journalOps: journalOps}, nil
}

// initLayout creates the buckets of a new file and checks the layout of an
// existing one.
func initLayout(tx *bbolt.Tx) error {
	info, err := tx.CreateBucketIfNotExists(bucketInfo)
	if err != nil {
		return err
	}
	switch v := info.Get(keyLayout); {
	case v == nil, bytes.Equal(v, []byte{layoutV1}):
		if err := info.Put(keyLayout, []byte{layoutV2}); err != nil {
			return err
		}
	case !bytes.Equal(v, []byte{layoutV2}):
		return fmt.Errorf("unknown layout version %v (this build reads %d and %d)", v, layoutV1, layoutV2)
	}
	for _, name := range [][]byte{bucketMeta, bucketSnap, bucketOps, bucketMarks, bucketJournal, bucketOutcomes} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// Path returns the file the store was opened on.
func (s *Store) Path() string { return s.path }

// Close closes the file. It waits for running transactions (a Backup
// included). Closing twice returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

// view runs fn in a read transaction, after checking ctx.
func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// wrapErr prefixes err with the store and the operation, and says so
// plainly when the cause is a closed store.
func wrapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bbolt.ErrDatabaseNotOpen):
		return fmt.Errorf("boltstore: %s: store is closed: %w", op, err)
	}
	return fmt.Errorf("boltstore: %s: %w", op, err)
}
