package boltstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"
)

// backupBufSize is the chunk in which a staged backup is streamed out.
const backupBufSize = 256 << 10

// ErrBackupRunning: [Store.Backup] was called while another backup runs.
var ErrBackupRunning = errors.New("boltstore: backup: another backup is running; retry when it is done")

// Backup writes a consistent copy of the whole database to w while the
// store keeps serving reads and commits, and returns the bytes written. The
// copy is a bbolt file that [Open] (or bbolt) opens as is; it holds every
// commit that finished before Backup began and none that began after.
//
// Why staged: a read transaction blocks any commit that must grow (remap)
// the file until it ends, so a transaction held while w drains at a slow
// or stalled reader's pace would stall every writer. Backup therefore
// copies the snapshot, inside the read transaction, to a temporary file
// beside the database (same disk, never a possibly memory-backed /tmp),
// ends the transaction, and only then streams the temporary file to w. The
// transaction lasts as long as a local file copy, whatever w does; the
// temporary file is removed when Backup returns (on Unix it is unlinked as
// soon as it is created, so even a crash leaves nothing behind). The price
// is free disk space for one more copy of the database while a backup runs.
//
// One backup runs at a time: a second one while the first runs fails at
// once with [ErrBackupRunning], so that concurrent requests cannot fill the
// disk with copies.
//
// Cancelling ctx stops the copy at its next write (to the staging file or
// to w).
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("boltstore: backup: %w", err)
	}
	if !s.backupRunning.CompareAndSwap(false, true) {
		return 0, ErrBackupRunning
	}
	defer s.backupRunning.Store(false)
	staged, err := s.stageBackup(ctx)
	if err != nil {
		return 0, fmt.Errorf("boltstore: backup: %w", restoreCtxErr(ctx, err))
	}
	defer staged.Close()
	buf := make([]byte, backupBufSize)
	n, err := io.CopyBuffer(ctxWriter{ctx: ctx, w: w}, onlyReader{staged}, buf)
	if err != nil {
		return n, fmt.Errorf("boltstore: backup: %w", restoreCtxErr(ctx, err))
	}
	return n, nil
}

// stagedFile is the temporary copy of a backup: its Close removes it.
type stagedFile struct {
	*os.File
	unlinked bool
}

func (f *stagedFile) Close() error {
	err := f.File.Close()
	if !f.unlinked {
		if rerr := os.Remove(f.Name()); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// stageBackup copies a consistent snapshot of the database to a new
// temporary file in the database's directory, inside one read transaction,
// and returns that file positioned at its start.
func (s *Store) stageBackup(ctx context.Context) (*stagedFile, error) {
	f, err := os.CreateTemp(filepath.Dir(s.path), ".syncd-backup-*.tmp")
	if err != nil {
		return nil, err
	}
	// Unlink at once where the system allows an open file to lose its
	// name (Unix): the space is freed when the file is closed, even if the
	// process dies first. Elsewhere Close removes it.
	staged := &stagedFile{File: f, unlinked: os.Remove(f.Name()) == nil}
	err = s.db.View(func(tx *bbolt.Tx) error {
		_, err := tx.WriteTo(ctxWriter{ctx: ctx, w: f})
		return err
	})
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		staged.Close()
		return nil, err
	}
	return staged, nil
}

// restoreCtxErr: bbolt formats some writer errors with %s, losing the
// chain; put the context's error back so callers can test for it.
func restoreCtxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// onlyReader hides the staging file's WriterTo, so that io.CopyBuffer
// writes through ctxWriter in bounded chunks (a cancelled backup stops at
// the next chunk) rather than handing w the whole file at once.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// ctxWriter fails writes once its context is done, so a backup to a slow
// or stalled writer can be abandoned.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
