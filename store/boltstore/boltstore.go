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

	DefaultLogSegmentBytes = 4 << 20
	DefaultApplyInterval   = 200 * time.Millisecond
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

	// NoSync skips the write-ahead log's fdatasync in each Commit and
	// bbolt's fsyncs in the applier's transactions (and writing the log's
	// segments ahead with zeros). It is UNSAFE: a
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

	// LogSegmentBytes is the size past which the write-ahead log moves
	// to its other segment file (wal.go), once everything in that one is
	// applied to bbolt. Default [DefaultLogSegmentBytes]. The log takes
	// about twice this on disk (each segment is written ahead with zeros
	// to this size when created, unless NoSync), and Open reads it.
	LogSegmentBytes int64

	// ApplyInterval is how long the applier lets logged batches gather
	// before it writes them to bbolt in one transaction, unless a read or
	// a checkpoint waits for them (then it writes at once). Default
	// [DefaultApplyInterval]; a negative value applies as soon as a batch
	// is logged. Longer means fewer, larger bbolt transactions (less disk
	// time besides the log's syncs) and a longer wait for the first read
	// of a document just written. The default, 200 ms, is long enough that
	// the applier's own syncs (two per bbolt transaction) seldom compete
	// with the log's for the disk: at 10 ms, 100 closed-loop writers
	// committed 0.81× as fast as without a log; at 200 ms 1.13× (see
	// BENCHMARKS.md).
	ApplyInterval time.Duration
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

	// The write-ahead log and its applier (wal_store.go).
	commitMu    sync.Mutex // serialises Commit; guards log, logMetas, payloadHint
	log         *walLog
	logMetas    logMetas
	payloadHint int

	mu          sync.Mutex // guards the fields below
	logged      uint64     // seq of the newest logged batch (written under commitMu too)
	applied     uint64     // seq of the newest batch bbolt holds
	queue       []loggedBatch
	queuedBytes int
	pendingDocs map[string]uint64 // document → seq of its newest batch not yet applied
	failed      error             // sticky: the write path is broken (Commit fails)
	applyErr    error             // sticky: the applier failed (reads of what it holds fail too)
	closed      bool
	appliedCh   chan struct{} // closed and replaced whenever applied moves (or failed is set)

	applyInterval time.Duration
	kick, urge    chan struct{} // to the applier: work at its interval, work now
	stop          chan struct{}
	applierDone   chan struct{}
	replayed      int // log records applied by Open
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
	return openWith(path, opts, osFS{})
}

// openWith is Open with the log's files opened through fs.
func openWith(path string, opts Options, fs walFS) (*Store, error) {
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
	db, err := openLocked(path, &bbolt.Options{
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
	s := &Store{
		db: db, path: path, retention: retention, journalOps: journalOps,
		pendingDocs:   make(map[string]uint64),
		appliedCh:     make(chan struct{}),
		applyInterval: opts.ApplyInterval,
		kick:          make(chan struct{}, 1),
		urge:          make(chan struct{}, 1),
		stop:          make(chan struct{}),
		applierDone:   make(chan struct{}),
	}
	if s.applyInterval == 0 {
		s.applyInterval = DefaultApplyInterval
	}
	if err := s.openLog(fs, opts); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	go s.applyLoop()
	return s, nil
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

// Close applies what the log holds beyond bbolt, then closes the files. It
// waits for running transactions (a Backup included). Closing twice
// returns the first result. No Commit may run during or after Close.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.log == nil { // OpenReadOnly's store: no log, no applier
			s.closeErr = s.db.Close()
			return
		}
		close(s.stop)
		<-s.applierDone
		s.applyQueued()
		s.mu.Lock()
		failed := s.failed
		s.closed = true
		s.mu.Unlock()
		var errs []error
		if failed != nil {
			errs = append(errs, fmt.Errorf("boltstore: close: %w: %w", errStoreFailed, failed))
		}
		if err := s.log.close(); err != nil {
			errs = append(errs, fmt.Errorf("boltstore: close write-ahead log: %w", err))
		}
		if err := s.db.Close(); err != nil {
			errs = append(errs, err)
		}
		s.closeErr = errors.Join(errs...)
	})
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
