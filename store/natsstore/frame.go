package natsstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// The bodies of the store's messages, in a small binary framing: a version
// byte, then fields as uvarints and length-prefixed byte strings. Binary
// rather than JSON so that an operation's payload comes back byte for byte
// (encoding/json would compact a json.RawMessage) and without escaping.

const frameVersion = 1

// Kinds of log record.
const (
	recCreate = 'C'
	recAppend = 'A'
	recDecide = 'D'
	recDelete = 'X'
)

// logRecord is one record of a log message: the records of one document
// of one Commit, in order, snapshots left out (they have their own
// subject).
type logRecord struct {
	kind   byte
	create *syncd.CreateRecord
	op     *syncd.Op
	decide *syncd.DecideRecord
}

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) bytes(p []byte) {
	e.uint(uint64(len(p)))
	e.b = append(e.b, p...)
}
func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}

type decoder struct {
	b   []byte
	err error
}

var errFrame = errors.New("natsstore: malformed message body")

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errFrame
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns a copy: message data belongs to the NATS client.
func (d *decoder) bytes() []byte {
	n := d.uint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	p := slices.Clone(d.b[:n])
	if p == nil {
		p = []byte{}
	}
	d.b = d.b[n:]
	return p
}

func (d *decoder) str() string {
	n := d.uint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func encodeLog(recs []logRecord) []byte {
	e := encoder{b: []byte{frameVersion}}
	for _, r := range recs {
		e.b = append(e.b, r.kind)
		switch r.kind {
		case recCreate:
			e.str(string(r.create.Epoch))
			e.int(r.create.Time)
		case recAppend:
			op := r.op
			e.uint(uint64(op.Rev))
			e.str(string(op.Kind))
			e.bytes(op.Payload)
			e.str(op.ClientID)
			e.str(op.ClientReqID)
			e.int(op.Time)
		case recDecide:
			e.str(r.decide.ClientID)
			e.str(r.decide.ReqID)
			e.str(r.decide.Code)
		}
	}
	return e.b
}

func decodeLog(doc string, b []byte) ([]logRecord, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != frameVersion {
		return nil, fmt.Errorf("natsstore: log message of version %d, want %d", v, frameVersion)
	}
	var recs []logRecord
	for d.err == nil && len(d.b) > 0 {
		r := logRecord{kind: d.byte()}
		switch r.kind {
		case recCreate:
			r.create = &syncd.CreateRecord{Doc: doc, Epoch: revision.Epoch(d.str()), Time: d.int()}
		case recAppend:
			r.op = &syncd.Op{Rev: revision.Rev(d.uint()), Kind: syncd.OpKind(d.str()), Payload: d.bytes(), ClientID: d.str(), ClientReqID: d.str(), Time: d.int()}
		case recDecide:
			r.decide = &syncd.DecideRecord{Doc: doc, ClientID: d.str(), ReqID: d.str(), Code: d.str()}
		case recDelete:
		default:
			d.fail()
		}
		recs = append(recs, r)
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w (log of %q)", d.err, doc)
	}
	return recs, nil
}

// snapshot is a snapshot message: the state at Rev, and the watermarks
// and outcomes of every log message before FromSeq (the rebuild replays
// the messages from FromSeq on, skipping operations up to Rev).
type snapshot struct {
	epoch    revision.Epoch
	epochSeq uint64 // the log message that created the epoch
	rev      revision.Rev
	fromSeq  uint64
	state    []byte // nil: the empty document
	clients  map[string]*client
}

func encodeSnapshot(sn *snapshot) []byte {
	e := encoder{b: []byte{frameVersion}}
	e.str(string(sn.epoch))
	e.uint(sn.epochSeq)
	e.uint(uint64(sn.rev))
	e.uint(sn.fromSeq)
	if sn.state == nil {
		e.b = append(e.b, 0)
	} else {
		e.b = append(e.b, 1)
		e.bytes(sn.state)
	}
	ids := sortedKeys(sn.clients)
	e.uint(uint64(len(ids)))
	for _, id := range ids {
		c := sn.clients[id]
		e.str(id)
		e.str(c.mark.ReqID)
		e.int(c.at)
		e.uint(uint64(len(c.outcomes)))
		for _, o := range c.outcomes {
			e.str(o.ReqID)
			e.uint(uint64(o.Rev))
			e.str(o.Code)
		}
	}
	return e.b
}

func decodeSnapshot(b []byte) (*snapshot, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != frameVersion {
		return nil, fmt.Errorf("natsstore: snapshot of version %d, want %d", v, frameVersion)
	}
	sn := &snapshot{epoch: revision.Epoch(d.str()), epochSeq: d.uint(), rev: revision.Rev(d.uint()), fromSeq: d.uint()}
	if d.byte() == 1 {
		sn.state = d.bytes()
	}
	n := d.uint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail()
	}
	sn.clients = make(map[string]*client, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		id := d.str()
		c := &client{mark: revision.Watermark{ReqID: d.str()}, at: d.int()}
		m := d.uint()
		if d.err == nil && m > revision.MaxOutcomes {
			d.fail()
		}
		for j := uint64(0); j < m && d.err == nil; j++ {
			c.outcomes = append(c.outcomes, revision.Outcome{ReqID: d.str(), Rev: revision.Rev(d.uint()), Code: d.str()})
		}
		sn.clients[id] = c
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w (snapshot)", d.err)
	}
	return sn, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// finalEpoch returns the records of recs that belong to the epoch the
// message ends in: those after its last Create.
func finalEpoch(recs []logRecord) []logRecord {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].kind == recCreate {
			return recs[i:]
		}
	}
	return recs
}
