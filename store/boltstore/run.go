package boltstore

import (
	"encoding/binary"
	"fmt"

	"github.com/deltasync/syncd/revision"
)

// A run is consecutive operations of one document stored as one value. It
// is the unit in which the journal and the documents' logs hold operations:
// a commit writes one journal entry per document it touches, and a
// checkpoint writes one log value per document, because a bbolt Put costs
// a B+tree descent and an insert into the page's item list whatever the
// value's size, and those dominated the write path when every operation
// was a Put of its own.
//
// Encoding: encodingRun | count | (op length | op) × count, where each op is
// encodeOp's value. Layout 1 stored one op per log value (encodingV1, the
// op itself); eachLogOp reads both.
const encodingRun = 2

// maxRunOps bounds the operations of one log value: reading one operation
// out of a run walks the run's length prefixes, and trimming rewrites the
// run that straddles the new first revision.
const maxRunOps = 512

// runBuilder accumulates the encoded ops of a run.
type runBuilder struct {
	first revision.Rev // the first op's revision (0: empty)
	count int
	body  []byte // (length | op) × count
}

// add appends one encoded op, whose revision is rev.
func (r *runBuilder) add(rev revision.Rev, enc []byte) {
	if r.count == 0 {
		r.first = rev
	}
	r.count++
	r.body = binary.AppendUvarint(r.body, uint64(len(enc)))
	r.body = append(r.body, enc...)
}

// appendTo appends the run's encoding to b.
func (r *runBuilder) appendTo(b []byte) []byte {
	b = append(b, encodingRun)
	b = binary.AppendUvarint(b, uint64(r.count))
	return append(b, r.body...)
}

// encode returns the run's encoding in a new slice.
func (r *runBuilder) encode() []byte {
	return r.appendTo(make([]byte, 0, 1+binary.MaxVarintLen64+len(r.body)))
}

func (r *runBuilder) reset() {
	r.first, r.count, r.body = 0, 0, r.body[:0]
}

// spareBufs recycles the bodies of runs between commits, so that a commit
// does not regrow a buffer for each document it touches. Commits are
// serialised by bbolt's writer lock, and the writer uses it only inside
// its transaction, so it needs no lock of its own.
type spareBufs struct{ bufs [][]byte }

// Bounds on what is kept: enough buffers for the documents of a large
// batch, none so large that one rare batch pins its memory.
const (
	maxSpareBufs = 256
	maxSpareSize = 64 << 10
)

func (s *spareBufs) get() []byte {
	if n := len(s.bufs); n > 0 {
		b := s.bufs[n-1]
		s.bufs = s.bufs[:n-1]
		return b[:0]
	}
	return make([]byte, 0, 1024)
}

func (s *spareBufs) put(b []byte) {
	if cap(b) > 0 && cap(b) <= maxSpareSize && len(s.bufs) < maxSpareBufs {
		s.bufs = append(s.bufs, b[:0])
	}
}

// eachRunOp calls fn with each op of the run v, in order, with its revision
// (from the op's own header), until fn returns false or an error. It checks
// the run's framing, not the ops' contiguity, which is the caller's.
func eachRunOp(v []byte, fn func(rev revision.Rev, enc []byte) (bool, error)) error {
	d := decoder{buf: v, what: "run"}
	d.versionIs(encodingRun)
	count := d.uvarint()
	if d.err == nil && count == 0 {
		d.fail("empty run")
	}
	for i := uint64(0); i < count && d.err == nil; i++ {
		enc := d.bytes()
		if d.err != nil {
			break
		}
		rev, _, _, err := opHeader(enc)
		if err != nil {
			return err
		}
		if more, err := fn(rev, enc); err != nil || !more {
			return err
		}
	}
	if d.err == nil && len(d.buf) != 0 {
		d.fail("%d trailing bytes", len(d.buf))
	}
	return d.err
}

// runLen returns the number of ops in the run v, from its header.
func runLen(v []byte) (uint64, error) {
	d := decoder{buf: v, what: "run"}
	d.versionIs(encodingRun)
	n := d.uvarint()
	if d.err == nil && n == 0 {
		d.fail("empty run")
	}
	return n, d.err
}

// eachLogOp is eachRunOp for a value of a document's log, which is a run,
// or a single op in a file that layout 1 wrote.
func eachLogOp(v []byte, fn func(rev revision.Rev, enc []byte) (bool, error)) error {
	if len(v) > 0 && v[0] == encodingV1 {
		rev, _, _, err := opHeader(v)
		if err != nil {
			return err
		}
		_, err = fn(rev, v)
		return err
	}
	return eachRunOp(v, fn)
}

// checkRun is a contiguity check for a sequence of ops: each call passes
// the next op's revision.
type checkRun struct {
	doc  string
	want revision.Rev
}

func (c *checkRun) next(rev revision.Rev) error {
	if rev != c.want {
		return fmt.Errorf("%w: op %d of %q where %d comes next", errCorrupt, rev, c.doc, c.want)
	}
	c.want++
	return nil
}
