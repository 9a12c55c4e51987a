package boltstore

import (
	"encoding/binary"
	"encoding/json"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// A commit batch is logged as one write-ahead log record (wal.go) whose
// payload is: encodingV1 | count | (record kind | fields) × count. Every
// kind goes through this one encoder and decoder, so a new kind of
// syncd.Record needs a kind byte below, a case in each of encodeBatch and
// decodeBatch, a case in batchCheck.check (wal_check.go: the checks the
// writer makes, and the record's effect on the meta, if any) and one in
// batchDocs (the document it touches, for the read barrier); the applier
// then applies it with the writer (commit.go), which needs its own case as
// before.
const (
	recCreate   byte = 1
	recAppend   byte = 2
	recDecide   byte = 3
	recSnapshot byte = 4
	recDelete   byte = 5
)

// appendBatch appends the payload of batch to b. Records must have passed
// batchCheck (exactly one field set).
func appendBatch(b []byte, batch []syncd.Record) []byte {
	b = append(b, encodingV1)
	b = binary.AppendUvarint(b, uint64(len(batch)))
	for _, rec := range batch {
		switch {
		case rec.Create != nil:
			c := rec.Create
			b = append(b, recCreate)
			b = appendString(b, c.Doc)
			b = appendString(b, string(c.Epoch))
			b = binary.AppendVarint(b, c.Time)
		case rec.Append != nil:
			a := rec.Append
			b = append(b, recAppend)
			b = appendString(b, a.Doc)
			b = appendString(b, string(a.Epoch))
			// The op is length-prefixed: its payload ends its own
			// encoding (appendOp), so it needs a frame here.
			n := len(b)
			b = append(b, make([]byte, binary.MaxVarintLen32)...)
			b = appendOp(b, a.Op)
			b = putFrame(b, n)
		case rec.Decide != nil:
			d := rec.Decide
			b = append(b, recDecide)
			b = appendString(b, d.Doc)
			b = appendString(b, d.ClientID)
			b = appendString(b, d.ReqID)
			b = appendString(b, d.Code)
		case rec.Snapshot != nil:
			s := rec.Snapshot
			b = append(b, recSnapshot)
			b = appendString(b, s.Doc)
			b = appendString(b, string(s.Epoch))
			b = binary.AppendUvarint(b, uint64(s.Rev))
			b = appendString(b, string(s.State))
		case rec.Delete != nil:
			b = append(b, recDelete)
			b = appendString(b, rec.Delete.Doc)
		}
	}
	return b
}

// putFrame turns the MaxVarintLen32 bytes reserved at b[n:] into a fixed
// five-byte uvarint of the length of what follows them, so the op is
// encoded once, in place, rather than into a scratch buffer and copied. A
// uvarint may be written with redundant continuation bytes; decoders read
// it like any other.
func putFrame(b []byte, n int) []byte {
	l := uint64(len(b) - n - binary.MaxVarintLen32)
	for i := 0; i < binary.MaxVarintLen32-1; i++ {
		b[n+i] = byte(l) | 0x80
		l >>= 7
	}
	b[n+binary.MaxVarintLen32-1] = byte(l)
	return b
}

// decodeBatch decodes a logged batch. Every field is copied out of v.
func decodeBatch(v []byte) ([]syncd.Record, error) {
	d := decoder{buf: v, what: "logged batch"}
	d.version()
	count := d.uvarint()
	if d.err == nil && count > uint64(len(d.buf)) {
		d.fail("%d records in %d bytes", count, len(d.buf))
	}
	var out []syncd.Record
	if d.err == nil {
		out = make([]syncd.Record, 0, count)
	}
	for i := uint64(0); i < count && d.err == nil; i++ {
		switch kind := d.byte(); kind {
		case recCreate:
			out = append(out, syncd.Record{Create: &syncd.CreateRecord{Doc: d.string(), Epoch: revision.Epoch(d.string()), Time: d.varint()}})
		case recAppend:
			doc, epoch := d.string(), revision.Epoch(d.string())
			enc := d.bytes()
			if d.err != nil {
				break
			}
			op, err := decodeOp(enc)
			if err != nil {
				return nil, err
			}
			out = append(out, syncd.Record{Append: &syncd.AppendRecord{Doc: doc, Epoch: epoch, Op: op}})
		case recDecide:
			out = append(out, syncd.Record{Decide: &syncd.DecideRecord{Doc: d.string(), ClientID: d.string(), ReqID: d.string(), Code: d.string()}})
		case recSnapshot:
			s := &syncd.SnapshotRecord{Doc: d.string(), Epoch: revision.Epoch(d.string()), Rev: revision.Rev(d.uvarint())}
			if state := d.bytes(); state != nil {
				s.State = json.RawMessage(append([]byte{}, state...))
			}
			out = append(out, syncd.Record{Snapshot: s})
		case recDelete:
			out = append(out, syncd.Record{Delete: &syncd.DeleteRecord{Doc: d.string()}})
		default:
			d.fail("unknown record kind %d", kind)
		}
	}
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}
