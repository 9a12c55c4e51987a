package boltstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// The write-ahead log: two segment files beside the bbolt file,
// <path>-wal.0 and <path>-wal.1, each a sequence of records:
//
//	length (4, big-endian) | checksum (4) | seq (8) | payload (length bytes)
//
// seq numbers the records of the whole log, 1, 2, 3, … across both
// segments; the checksum is CRC-32C over the log's id (a random value kept
// in the bbolt file), seq and payload. Segments are reused: once every
// record of the other segment is applied to bbolt, a full segment hands
// over and the next records overwrite the other from its start. What lies
// past the newest records of a reused segment is older records (lower seq)
// or the torn tail of an unfinished write, so a reader takes a segment's
// records from its start while each is valid and its seq follows the one
// before; that chain ends at the first record that is not. The log id in
// the checksum means a segment left over from another database never
// reads as valid.
//
// Overwriting a segment rather than appending to a growing file is also
// what makes the log cheap: fdatasync of a write that does not change the
// file's size or allocation need not commit the file system's journal.

// walHeaderSize is the size of a record's header.
const walHeaderSize = 16

// maxWALRecord bounds a record's payload; a header claiming more is
// garbage (a torn or stale header), not a record.
const maxWALRecord = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// walFile is what the log needs of a segment file. *os.File is one; tests
// use a file layer that forgets unsynced writes (faultfs_test.go).
type walFile interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Close() error
}

// walFS opens segment files, creating them when absent, with at least
// size bytes (zeros where nothing was written yet).
type walFS interface {
	OpenFile(name string, size int64) (walFile, error)
}

// LogFiles returns the names of the write-ahead log's segments of the
// store at path. A command that replaces the bbolt file with another
// database (a restore) must remove them (after opening and closing the old
// store, which applies them), or the next Open would read the old log
// against the new file: a log of another database is ignored (its id
// differs), but a backup of the same database shares its id, so the
// records logged after the backup would be replayed on top of it, or Open
// would refuse to start because they no longer follow on from it.
func LogFiles(path string) []string {
	return []string{path + "-wal.0", path + "-wal.1"}
}

// walChecksum is the record checksum.
func walChecksum(id uint64, seq uint64, payload []byte) uint32 {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], id)
	binary.BigEndian.PutUint64(b[8:], seq)
	return crc32.Update(crc32.Checksum(b[:], castagnoli), castagnoli, payload)
}

// appendWALRecord appends a record's header and payload to b.
func appendWALRecord(b []byte, id, seq uint64, payload []byte) []byte {
	var h [walHeaderSize]byte
	binary.BigEndian.PutUint32(h[0:], uint32(len(payload)))
	binary.BigEndian.PutUint32(h[4:], walChecksum(id, seq, payload))
	binary.BigEndian.PutUint64(h[8:], seq)
	b = append(b, h[:]...)
	return append(b, payload...)
}

// walRecord is one record read back.
type walRecord struct {
	seq     uint64
	payload []byte
}

// segmentChain is what a reader found in one segment.
type segmentChain struct {
	records []walRecord // the chain: valid records with consecutive seqs
	end     int64       // offset just past the chain
	// next is the seq of a valid record found right after a damaged one
	// that ended the chain (0: none). Past a torn tail lie older records,
	// never a newer one, so a newer one here means the damage is in the
	// middle of the log.
	next      uint64
	damagedAt int64 // offset of that damaged record
}

// readChain reads the chain of records at the start of f.
func readChain(f walFile, id uint64) (segmentChain, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, 1<<62), 256<<10)
	var c segmentChain
	var h [walHeaderSize]byte
	for {
		rec, n, err := readWALRecord(r, h[:], id)
		switch {
		case err == nil && (len(c.records) == 0 || rec.seq == c.records[len(c.records)-1].seq+1):
			c.records = append(c.records, rec)
			c.end += n
			continue
		case err == nil, errors.Is(err, io.EOF):
			// An older record (a reused segment) or the file's end.
			return c, nil
		case errors.Is(err, errWALDamaged):
			c.damagedAt = c.end
			if n > 0 {
				if rec, _, err := readWALRecord(r, h[:], id); err == nil {
					c.next = rec.seq
				}
			}
			return c, nil
		default:
			return c, err
		}
	}
}

var errWALDamaged = errors.New("damaged record")

// readWALRecord reads one record. It returns io.EOF at a clean end (or a
// header of zeros: never-written space), errWALDamaged for a short or
// inconsistent record, with n its framed size when the header's length
// was plausible (so that the caller can look past it), or an I/O error.
func readWALRecord(r *bufio.Reader, h []byte, id uint64) (walRecord, int64, error) {
	if _, err := io.ReadFull(r, h); err != nil {
		if errors.Is(err, io.EOF) {
			return walRecord{}, 0, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return walRecord{}, 0, errWALDamaged
		}
		return walRecord{}, 0, err
	}
	length := binary.BigEndian.Uint32(h[0:])
	sum := binary.BigEndian.Uint32(h[4:])
	seq := binary.BigEndian.Uint64(h[8:])
	if length == 0 && sum == 0 && seq == 0 {
		return walRecord{}, 0, io.EOF
	}
	if length > maxWALRecord || seq == 0 {
		return walRecord{}, 0, errWALDamaged
	}
	// Grow the payload as its bytes arrive rather than trusting the
	// length up front: a stale or torn header may claim up to
	// maxWALRecord bytes that the file does not have.
	payload, err := io.ReadAll(io.LimitReader(r, int64(length)))
	if err != nil {
		return walRecord{}, 0, err
	}
	if len(payload) < int(length) {
		return walRecord{}, 0, errWALDamaged
	}
	n := int64(walHeaderSize) + int64(length)
	if walChecksum(id, seq, payload) != sum {
		return walRecord{}, n, errWALDamaged
	}
	return walRecord{seq: seq, payload: payload}, n, nil
}

// recoverLog reads both segments and returns the records after applied,
// in order. The records after applied must follow on from it without a
// gap; a damaged record followed by newer valid ones is an error, as is a
// log that skips seqs: both mean records that were acknowledged are
// unreadable, and starting without them would lose them silently.
func recoverLog(chains [2]segmentChain, names [2]string, applied uint64) ([]walRecord, uint64, error) {
	var out []walRecord
	end := applied
	for progressed := true; progressed; {
		progressed = false
		for _, c := range chains {
			for i, rec := range c.records {
				if rec.seq == end+1 {
					for _, r := range c.records[i:] {
						out = append(out, r)
						end = r.seq
					}
					progressed = true
					break
				}
			}
		}
	}
	for i, c := range chains {
		if c.next > end {
			return nil, 0, fmt.Errorf("boltstore: write-ahead log %s: the record at offset %d is damaged and record %d follows it: the log is corrupt in its middle (not a torn tail); refusing to start without the records it holds", names[i], c.damagedAt, c.next)
		}
		if n := len(c.records); n > 0 && c.records[n-1].seq > end {
			return nil, 0, fmt.Errorf("boltstore: write-ahead log %s holds records %d … %d, but the log is readable only up to %d: records %d … %d are missing; refusing to start", names[i], c.records[0].seq, c.records[n-1].seq, end, end+1, c.records[0].seq-1)
		}
	}
	return out, end, nil
}
