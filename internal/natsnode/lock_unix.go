//go:build unix

package natsnode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockFile is the file in the data directory a running node holds locked.
// Two NATS servers on one JetStream directory would corrupt it, and the
// server itself does not prevent it.
const LockFile = "lock"

// ErrLocked: another process runs a node on the data directory.
var ErrLocked = errors.New("natsnode: the data directory is in use by another process")

// lockDir takes the data directory's lock, without waiting; the returned
// function releases it. The lock goes with the process, so a crash leaves
// none behind.
func lockDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s is locked)", ErrLocked, path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}
