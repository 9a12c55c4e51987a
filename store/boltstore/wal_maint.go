package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"go.etcd.io/bbolt"
)

// applyLogTail makes the bbolt file at path hold everything its
// write-ahead log holds, for readers that open the file without the log
// (OpenReadOnly, and through it the maintenance commands): when the log
// holds records past the file's walApplied, it opens the store read-write
// once, which replays them, and closes it. A file with no log beside it (a
// backup's copy) is left alone, and so is one whose log adds nothing.
func applyLogTail(path string, opts Options) error {
	names := LogFiles(path)
	present := false
	for _, name := range names {
		if _, err := os.Stat(name); err == nil {
			present = true
		}
	}
	if !present {
		return nil
	}
	timeout := opts.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		timeout = 0 // bbolt: wait forever, as Options.Timeout says
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return err
	}
	var id, applied uint64
	var haveID bool
	err = db.View(func(tx *bbolt.Tx) error {
		info := tx.Bucket(bucketInfo)
		if info == nil {
			return nil
		}
		if v := info.Get(keyLogID); len(v) == 8 {
			id, haveID = binary.BigEndian.Uint64(v), true
		}
		if v := info.Get(keyLogApplied); len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil || !haveID {
		return err
	}
	var chains [2]segmentChain
	for i, name := range names {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		chains[i], err = readChain(f, id)
		f.Close()
		if err != nil {
			return fmt.Errorf("write-ahead log %s: %w", name, err)
		}
	}
	tail, _, err := recoverLog(chains, [2]string{names[0], names[1]}, applied)
	if err == nil && len(tail) == 0 {
		return nil
	}
	// A damaged log gets Open's error, which says what is wrong. The
	// replay keeps every operation: the server's retention is not known
	// here (the maintenance commands pass the zero Options), and trimming
	// under the default one would drop history a server told to keep more
	// (or everything) was keeping. The server trims under its own
	// retention at its next commit of each document.
	opts.Retention = -1
	s, err := Open(path, opts)
	if err != nil {
		return err
	}
	return s.Close()
}

// RemoveLogFiles removes the write-ahead log's segments of the store at
// path, if any. Only for a store that is closed and whose log is applied
// (Close applies it), such as a database being replaced by a restore: a
// log left beside a restored file would be read against it at the next
// Open (see LogFiles).
func RemoveLogFiles(path string) error {
	for _, name := range LogFiles(path) {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
