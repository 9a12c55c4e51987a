package boltstore

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"go.etcd.io/bbolt"
)

// ErrLocked is returned (wrapped) by [Open] when another process holds the
// file's lock: another syncd runs on the same data.
var ErrLocked = errors.New("boltstore: database is in use by another process")

// openError explains a failure of bbolt.Open: a lock not free within
// timeout is ErrLocked, saying so instead of bbolt's bare "timeout"; an
// error of the file system already names the path, which is not repeated.
func openError(path string, timeout time.Duration, err error) error {
	if errors.Is(err, bbolt.ErrTimeout) {
		// Wraps bbolt's error too, for callers that test for it.
		return fmt.Errorf("%w: %s (its lock was not free within %v: %w)", ErrLocked, path, timeout, err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return fmt.Errorf("boltstore: %w", err)
	}
	return fmt.Errorf("boltstore: open %s: %w", path, err)
}
