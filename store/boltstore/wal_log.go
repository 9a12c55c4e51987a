package boltstore

import "fmt"

// walLog writes the log's records (the format is in wal.go). Only Commit
// uses it, under the store's commitMu.
type walLog struct {
	names [2]string
	files [2]walFile
	id    uint64

	active int   // the segment being written
	off    int64 // where its next record goes
	// last is the seq of the newest record written to each segment since
	// Open (0: none); a segment may be reused once the applier has
	// applied its last.
	last     [2]uint64
	segBytes int64
	noSync   bool
	buf      []byte
}

// append writes one record and syncs it. applied is the applier's
// progress, which decides whether a full segment may hand over to the
// other. It reports whether the log would like the applier to hurry (the
// segment is full and the other one still holds unapplied records).
func (l *walLog) append(seq uint64, payload []byte, applied uint64) (hurry bool, err error) {
	if l.off >= l.segBytes {
		other := 1 - l.active
		if l.last[other] <= applied {
			l.active, l.off, l.last[other] = other, 0, 0
		} else {
			hurry = true
		}
	}
	l.buf = appendWALRecord(l.buf[:0], l.id, seq, payload)
	f := l.files[l.active]
	if _, err := f.WriteAt(l.buf, l.off); err != nil {
		return hurry, fmt.Errorf("write-ahead log %s: write: %w", l.names[l.active], err)
	}
	if !l.noSync {
		if err := f.Sync(); err != nil {
			return hurry, fmt.Errorf("write-ahead log %s: sync: %w", l.names[l.active], err)
		}
	}
	l.off += int64(len(l.buf))
	l.last[l.active] = seq
	if cap(l.buf) > maxSpareSize {
		l.buf = nil // one large batch does not pin its buffer
	}
	return hurry, nil
}

func (l *walLog) close() error {
	var first error
	for _, f := range l.files {
		if f == nil {
			continue
		}
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
