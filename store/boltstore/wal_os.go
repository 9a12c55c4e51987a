package boltstore

import (
	"fmt"
	"github.com/deltasync/syncd/internal/fsync"
	"os"
	"path/filepath"
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
type osFS struct{}

func (osFS) OpenFile(name string, size int64) (walFile, error) {
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
	return dataSyncFile{f}, nil
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

// dataSyncFile is an *os.File whose Sync is fdatasync (wal_sync_*.go).
type dataSyncFile struct{ *os.File }

func (f dataSyncFile) Sync() error { return fsync.Data(f.File) }
