package boltstore

import (
	"fmt"
	"os"

	"go.etcd.io/bbolt"
)

// openLocked is bbolt.Open that makes sure the file it locked is still the
// one at path. The maintenance commands that replace a database (Compact,
// a restore) hold the old file's lock until they have renamed the new one
// over it; an Open that opened the path before that rename waits for the
// lock on the old file, and when it gets it, that file is no longer the
// database: whatever a server wrote into it would be gone at its next
// start. Such an Open starts over on the file now at path.
func openLocked(path string, o *bbolt.Options) (*bbolt.DB, error) {
	for {
		var f *os.File
		opts := *o
		opts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
			var err error
			f, err = os.OpenFile(name, flag, perm)
			return f, err
		}
		db, err := bbolt.Open(path, 0o600, &opts)
		if err != nil {
			return nil, err
		}
		locked, err := f.Stat()
		if err != nil {
			_ = db.Close()
			return nil, err
		}
		now, err := os.Stat(path)
		if err == nil && os.SameFile(locked, now) {
			return db, nil
		}
		_ = db.Close()
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
}
