package main

import (
	"os"
	"syscall"
)

// fdatasync is what the store's log calls on Linux (os.File.Sync is
// fsync, which also writes the file's metadata).
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
