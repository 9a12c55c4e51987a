package fsync

import (
	"os"
	"syscall"
)

// Data makes f's data durable: fdatasync on Linux (os.File.Sync is fsync,
// which also writes the file's metadata, such as its modification time,
// that a log of appended records does not need), retried when a signal
// interrupts it.
func Data(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
