//go:build !linux

package fsync

import "os"

// Data falls back to fsync where the system has no fdatasync.
func Data(f *os.File) error { return f.Sync() }
