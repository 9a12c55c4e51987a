package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// Values are encoded as a version byte followed by binary fields: unsigned
// varints for revisions and lengths, signed varints for times, and raw
// bytes for the one variable field that ends the value (an op's payload, a
// snapshot's state), which therefore needs no length. Binary rather than
// JSON because the log is the bulk of the file: an op in JSON repeats six
// key names and quotes its payload, about 60 bytes on top of a payload that
// is often smaller than that, and decoding it costs reflection on every
// catch-up read. The version byte lets a later layout change the encoding
// of new values while still reading old ones.
//
// Decoders never trust their input: every length is checked against what
// remains, and any malformed value is an error wrapping errCorrupt.

// Encoding versions. Every value this package writes starts with
// encodingV1, except a meta, which is written as encodingV2 since layout 2
// added its journal fields; a v1 meta (from a layout-1 file) still decodes,
// with no journal entries.
const (
	encodingV1 = 1
	encodingV2 = 2
)

// errCorrupt marks a stored value that cannot be decoded.
var errCorrupt = errors.New("boltstore: corrupt value")

// meta is a document's metadata row: syncd.DocMeta without the id (which is
// the key) plus the revision of the newest snapshot (0 with none), which
// Load and retention need without reading the snapshot itself, and where
// the document's newest operations are in the journal (journal.go).
type meta struct {
	Epoch   revision.Epoch
	Head    revision.Rev
	First   revision.Rev
	SnapRev revision.Rev
	Created int64
	Updated int64
	// JSeq is the journal sequence number of the document's oldest entry
	// still in the journal, 0 when it has none; JRev is that entry's
	// revision. The document's log then holds First … JRev-1 and the
	// journal JRev … Head; with JSeq 0 the log holds First … Head.
	JSeq uint64
	JRev revision.Rev
}

// logEnd is the last revision the document's own log bucket holds.
func (m *meta) logEnd() revision.Rev {
	if m.JSeq != 0 {
		return m.JRev - 1
	}
	return m.Head
}

func (m *meta) docMeta(doc string) syncd.DocMeta {
	return syncd.DocMeta{Doc: doc, Epoch: m.Epoch, Head: m.Head, First: m.First, Created: m.Created, Updated: m.Updated}
}

// encodeMeta: v2 | epoch len | epoch | head | first | snapRev | created |
// updated | jSeq | jRev. (v1 ends after updated.)
func encodeMeta(m *meta) []byte {
	b := make([]byte, 0, 1+1+len(m.Epoch)+7*binary.MaxVarintLen64)
	b = append(b, encodingV2)
	b = appendString(b, string(m.Epoch))
	b = binary.AppendUvarint(b, uint64(m.Head))
	b = binary.AppendUvarint(b, uint64(m.First))
	b = binary.AppendUvarint(b, uint64(m.SnapRev))
	b = binary.AppendVarint(b, m.Created)
	b = binary.AppendVarint(b, m.Updated)
	b = binary.AppendUvarint(b, m.JSeq)
	b = binary.AppendUvarint(b, uint64(m.JRev))
	return b
}

func decodeMeta(v []byte) (*meta, error) {
	d := decoder{buf: v, what: "meta"}
	version := d.versionUpTo(encodingV2)
	m := &meta{
		Epoch:   revision.Epoch(d.string()),
		Head:    revision.Rev(d.uvarint()),
		First:   revision.Rev(d.uvarint()),
		SnapRev: revision.Rev(d.uvarint()),
		Created: d.varint(),
		Updated: d.varint(),
	}
	if version >= encodingV2 {
		m.JSeq = d.uvarint()
		m.JRev = revision.Rev(d.uvarint())
	}
	d.end()
	if d.err == nil && (m.First == 0 || m.First > m.Head+1 || m.SnapRev > m.Head || m.SnapRev+1 < m.First) {
		d.fail("revisions out of order: first %d, head %d, snapshot %d", m.First, m.Head, m.SnapRev)
	}
	if d.err == nil && ((m.JSeq == 0) != (m.JRev == 0) || m.JSeq != 0 && (m.JRev < m.First || m.JRev > m.Head)) {
		d.fail("journal entries out of order: first %d, head %d, journal from %d at %d", m.First, m.Head, m.JRev, m.JSeq)
	}
	if d.err != nil {
		return nil, d.err
	}
	return m, nil
}

// Op kinds get one byte; any other kind is written out after kindOther, so
// that the engine can add kinds without a new encoding.
const (
	kindOther byte = 0
	kindPatch byte = 1
	kindMerge byte = 2
)

// encodeOp: v1 | rev | kind | client len | client | req len | req | time | payload.
// The revision is also the key; storing it again lets reads detect a value
// under the wrong key.
func encodeOp(op *syncd.Op) []byte {
	return appendOp(make([]byte, 0, 1+3*binary.MaxVarintLen64+3+len(op.ClientID)+len(op.ClientReqID)+len(op.Payload)), op)
}

// appendOp appends encodeOp's value to b.
func appendOp(b []byte, op *syncd.Op) []byte {
	b = append(b, encodingV1)
	b = binary.AppendUvarint(b, uint64(op.Rev))
	switch op.Kind {
	case syncd.OpPatch:
		b = append(b, kindPatch)
	case syncd.OpMerge:
		b = append(b, kindMerge)
	default:
		b = append(b, kindOther)
		b = appendString(b, string(op.Kind))
	}
	b = appendString(b, op.ClientID)
	b = appendString(b, op.ClientReqID)
	b = binary.AppendVarint(b, op.Time)
	return append(b, op.Payload...)
}

func decodeOp(v []byte) (*syncd.Op, error) {
	d := decoder{buf: v, what: "op"}
	d.version()
	op := &syncd.Op{Rev: revision.Rev(d.uvarint())}
	switch k := d.byte(); k {
	case kindPatch:
		op.Kind = syncd.OpPatch
	case kindMerge:
		op.Kind = syncd.OpMerge
	case kindOther:
		op.Kind = syncd.OpKind(d.string())
	default:
		d.fail("unknown kind %d", k)
	}
	op.ClientID = d.string()
	op.ClientReqID = d.string()
	op.Time = d.varint()
	op.Payload = d.rest()
	if d.err != nil {
		return nil, d.err
	}
	return op, nil
}

// encodeSnapshot: v1 | rev | state. The revision duplicates meta.SnapRev so
// that a snapshot that does not belong to its meta is detected.
func encodeSnapshot(rev revision.Rev, state []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(state))
	b = append(b, encodingV1)
	b = binary.AppendUvarint(b, uint64(rev))
	return append(b, state...)
}

func decodeSnapshot(v []byte) (revision.Rev, []byte, error) {
	d := decoder{buf: v, what: "snapshot"}
	d.version()
	rev := revision.Rev(d.uvarint())
	state := d.rest()
	if d.err != nil {
		return 0, nil, d.err
	}
	return rev, state, nil
}

// encodeMark: v1 | request id.
func encodeMark(w revision.Watermark) []byte {
	return append([]byte{encodingV1}, w.ReqID...)
}

func decodeMark(v []byte) (revision.Watermark, error) {
	d := decoder{buf: v, what: "watermark"}
	d.version()
	id := d.rest()
	if d.err == nil && len(id) == 0 {
		d.fail("empty request id")
	}
	if d.err != nil {
		return revision.Watermark{}, d.err
	}
	return revision.Watermark{ReqID: string(id)}, nil
}

// encodeEntry: v1 | doc len | doc | run (run.go). The document id comes
// first so that a scan for one document's entries can skip the others
// without decoding them (entryDoc).
func encodeEntry(doc []byte, run *runBuilder) []byte {
	return appendEntry(make([]byte, 0, entrySize(doc, run)), doc, run)
}

// appendEntry appends encodeEntry's value to b.
func appendEntry(b, doc []byte, run *runBuilder) []byte {
	b = append(b, encodingV1)
	b = binary.AppendUvarint(b, uint64(len(doc)))
	b = append(b, doc...)
	return run.appendTo(b)
}

// entrySize bounds the length of encodeEntry's value.
func entrySize(doc []byte, run *runBuilder) int {
	return 1 + binary.MaxVarintLen64 + len(doc) + 1 + binary.MaxVarintLen64 + len(run.body)
}

// entryDoc splits a journal entry into its document id and its run,
// without copying: both alias v.
func entryDoc(v []byte) (doc, run []byte, err error) {
	d := decoder{buf: v, what: "journal entry"}
	d.version()
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.buf)) {
		d.fail("document id of %d bytes, %d left", n, len(d.buf))
	}
	if d.err != nil {
		return nil, nil, d.err
	}
	return d.buf[:n], d.buf[n:], nil
}

// opHeader decodes an encoded op's revision, client id and request id
// without copying its payload: what a watermark or a contiguity check
// needs.
func opHeader(v []byte) (rev revision.Rev, client, req []byte, err error) {
	d := decoder{buf: v, what: "op"}
	d.version()
	rev = revision.Rev(d.uvarint())
	if d.byte() == kindOther {
		d.bytes()
	}
	client = d.bytes()
	req = d.bytes()
	if d.err != nil {
		return 0, nil, nil, d.err
	}
	return rev, client, req, nil
}

// revKey is the key of an op: its revision as 8 bytes big-endian, so that
// byte order is revision order and a cursor scan reads a range in order.
func revKey(r revision.Rev) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(r))
}

// keyRev decodes a revKey.
func keyRev(k []byte) (revision.Rev, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("%w: op key of %d bytes, want 8", errCorrupt, len(k))
	}
	return revision.Rev(binary.BigEndian.Uint64(k)), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads the fields of one value. The first failure sticks: later
// reads return zero values, so a decode function checks err once at the
// end.
type decoder struct {
	buf  []byte
	what string
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s", errCorrupt, d.what, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) version() {
	d.versionUpTo(encodingV1)
}

// versionIs reads a version byte that must be v.
func (d *decoder) versionIs(v byte) {
	if got := d.byte(); d.err == nil && got != v {
		d.fail("unknown encoding version %d", got)
	}
}

// versionUpTo reads a version byte that may be 1 … max and returns it.
func (d *decoder) versionUpTo(max byte) byte {
	switch v := d.byte(); {
	case d.err != nil:
		return 0
	case v < encodingV1 || v > max:
		d.fail("unknown encoding version %d", v)
		return 0
	default:
		return v
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.buf[0]
	d.buf = d.buf[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return x
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return x
}

func (d *decoder) string() string {
	return string(d.bytes())
}

// bytes reads a length-prefixed field without copying it.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) {
		d.fail("string of %d bytes, %d left", n, len(d.buf))
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

// rest returns a copy of the remaining bytes: bbolt's values live in its
// memory map and are valid only inside their transaction.
func (d *decoder) rest() []byte {
	if d.err != nil {
		return nil
	}
	b := append([]byte{}, d.buf...)
	d.buf = nil
	return b
}

func (d *decoder) end() {
	if d.err == nil && len(d.buf) != 0 {
		d.fail("%d trailing bytes", len(d.buf))
	}
}
