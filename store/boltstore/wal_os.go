package boltstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/deltasync/syncd/internal/fsync"
	"github.com/deltasync/syncd/internal/uring"
)

// osFS keeps the log in real files.
//
// A segment is filled with zeros up to its size when it is created (the
// reader takes a zero header for the end of the log), and synced with
// fdatasync where the system has it. Both are for the cost of the sync
// that every acknowledgement waits for: a write within a file's written
// extent, synced with fdatasync, changes no metadata that the sync must
// also commit to the file system's journal (not the size, not the block
// map, and mtime is left to fsync), so it costs about one write of the
// data; appending to a growing file, or syncing with fsync, adds a
// journal commit to every acknowledgement.
//
// Each segment file has its own io_uring (internal/uring), through which
// its records are written and fdatasynced, so that the committing
// goroutine waits in the network poller and does not hold a P through the
// sync (doc.go, "the sync off the P"). Where io_uring is unavailable or
// turned off, the write and the sync are ordinary system calls.
type osFS struct {
	// plain turns io_uring off: Options.NoIOURing, or NoSync (no sync to
	// take off the P).
	plain bool
	// openRing opens a segment's ring; nil means uring.Open. Tests make
	// it fail, to cover the fallback.
	openRing func() (*uring.Ring, error)
}

func (fs osFS) OpenFile(name string, size int64) (walFile, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := prefill(f, size); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// The file's name must be durable before any record in it is: sync
	// the directory that holds it (once per Open).
	if err := syncDir(filepath.Dir(name)); err != nil {
		f.Close()
		return nil, err
	}
	sf := &segmentFile{File: f, plainWhy: errors.New("turned off (NoIOURing or NoSync)")}
	if !fs.plain {
		sf.ring, sf.plainWhy = fs.ring(f)
	}
	return sf, nil
}

// ring opens the ring for f and proves it on f: it writes f's first bytes
// back over themselves and syncs, so that a kernel or file system that
// sets a ring up but cannot write or sync this file through it falls back
// now rather than failing a Commit later. It returns nil and the reason
// when f is to use ordinary system calls.
func (fs osFS) ring(f *os.File) (*uring.Ring, error) {
	open := fs.openRing
	if open == nil {
		open = uring.Open
	}
	r, err := open()
	if err != nil {
		return nil, err
	}
	head := make([]byte, walHeaderSize)
	n, err := f.ReadAt(head, 0)
	if err == nil || errors.Is(err, io.EOF) {
		err = r.WriteAndSync(f, head[:n], 0)
	}
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("io_uring set up but failed on %s: %w", f.Name(), err)
	}
	return r, nil
}

// prefill writes zeros from f's end up to size, and syncs them.
func prefill(f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() >= size {
		return nil
	}
	zeros := make([]byte, 1<<20)
	for off := fi.Size(); off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
	}
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// segmentFile is a segment of the log on disk.
type segmentFile struct {
	*os.File
	ring     *uring.Ring // nil: pwrite and fdatasync (internal/fsync)
	plainWhy error       // with ring nil: why
}

func (f *segmentFile) WriteDurable(p []byte, off int64) error {
	if f.ring != nil {
		return f.ring.WriteAndSync(f.File, p, off)
	}
	if _, err := f.WriteAt(p, off); err != nil {
		return err
	}
	return fsync.Data(f.File)
}

// syncMethod says how the file's records are made durable, for
// [Store.LogSync].
func (f *segmentFile) syncMethod() string {
	if f.ring != nil {
		return LogSyncIOURing
	}
	return LogSyncPlain + " (" + f.plainWhy.Error() + ")"
}

func (f *segmentFile) Close() error {
	var ringErr error
	if f.ring != nil {
		ringErr = f.ring.Close()
	}
	return errors.Join(ringErr, f.File.Close())
}
