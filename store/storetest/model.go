package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/revision"
)

// model is the suite's reference implementation of the Store contract: what
// a store must hold after the batches the suite committed. It decides, for
// each record, what the contract says (a conflict, a malformed record or
// the new state), so a test can predict whether a batch must fail, and the
// check after the test can compare the store with it.
//
// The model keeps every operation and the JSON state at the head, which
// it computes with package delta; retention is the one thing it does not
// predict (stores trim in their own chunks), so it only bounds First.
type model struct {
	docs map[string]*modelDoc
	// shared: the store is a syncd.SharedStore, which refuses a record of
	// a client request at or below the client's watermark as a conflict
	// (another writer decided it); a single-writer store takes it and
	// leaves the watermark where it is.
	shared bool
}

type modelDoc struct {
	epoch   revision.Epoch
	created int64
	updated int64
	// ops[i] is revision i+1; len(ops) is the head.
	ops []*syncd.Op
	// state is the document at the head.
	state any
	// snapRev is the newest snapshot's revision; hasSnap says whether
	// there is one.
	snapRev revision.Rev
	hasSnap bool
	marks   map[string]revision.Watermark
	// outcomes are each client's recent decisions (cases_outcomes.go).
	outcomes map[string][]revision.Outcome
}

func (d *modelDoc) head() revision.Rev { return revision.Rev(len(d.ops)) }

func newModel() *model { return &model{docs: make(map[string]*modelDoc)} }

// clone returns a deep copy, so a batch can be tried on it and dropped if
// the store must refuse it.
func (m *model) clone() *model {
	c := newModel()
	c.shared = m.shared
	for id, d := range m.docs {
		c.docs[id] = d.clone()
	}
	return c
}

// clone returns a deep copy of d.
func (d *modelDoc) clone() *modelDoc {
	cd := *d
	cd.ops = slices.Clone(d.ops)
	cd.state = cloneJSON(d.state)
	cd.marks = maps.Clone(d.marks)
	cd.outcomes = maps.Clone(d.outcomes)
	for client, outs := range cd.outcomes {
		cd.outcomes[client] = slices.Clone(outs)
	}
	return &cd
}

// Kinds of outcome the model predicts for a record.
var (
	errModelConflict  = fmt.Errorf("model: %w", syncd.ErrConflict)
	errModelMalformed = errors.New("model: malformed record")
)

// apply applies rec as the contract says. It returns an error wrapping
// errModelConflict or errModelMalformed when the store must fail the batch,
// and any other error when the suite itself wrote an op the model cannot
// apply (a bug in the test).
func (m *model) apply(rec syncd.Record) error {
	n := 0
	for _, set := range []bool{rec.Create != nil, rec.Append != nil, rec.Decide != nil, rec.Snapshot != nil, rec.Delete != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errModelMalformed
	}
	switch {
	case rec.Create != nil:
		c := rec.Create
		if c.Doc == "" || c.Epoch == "" {
			return errModelMalformed
		}
		if m.docs[c.Doc] != nil {
			return errModelConflict
		}
		m.docs[c.Doc] = &modelDoc{epoch: c.Epoch, created: c.Time, updated: c.Time, state: map[string]any{}}
	case rec.Append != nil:
		a := rec.Append
		if a.Op == nil {
			return errModelMalformed
		}
		d := m.docs[a.Doc]
		if d == nil || d.epoch != a.Epoch || a.Op.Rev != d.head()+1 {
			return errModelConflict
		}
		if m.decidedElsewhere(d, a.Op.ClientID, a.Op.ClientReqID) {
			return errModelConflict
		}
		if err := applyOp(&d.state, a.Op); err != nil {
			return fmt.Errorf("storetest bug: op %d of %q does not apply: %v", a.Op.Rev, a.Doc, err)
		}
		d.ops = append(d.ops, a.Op)
		d.updated = a.Op.Time
		if a.Op.ClientID != "" && a.Op.ClientReqID != "" {
			d.advance(a.Op.ClientID, revision.Outcome{ReqID: a.Op.ClientReqID, Rev: a.Op.Rev})
		}
	case rec.Decide != nil:
		dc := rec.Decide
		if dc.ClientID == "" || dc.ReqID == "" {
			return errModelMalformed
		}
		if d := m.docs[dc.Doc]; d != nil {
			if m.decidedElsewhere(d, dc.ClientID, dc.ReqID) {
				return errModelConflict
			}
			d.advance(dc.ClientID, revision.Refused(dc.ReqID, dc.Code))
		}
	case rec.Snapshot != nil:
		s := rec.Snapshot
		d := m.docs[s.Doc]
		if d == nil || d.epoch != s.Epoch || s.Rev > d.head() {
			return errModelConflict
		}
		if !d.hasSnap || s.Rev >= d.snapRev {
			d.snapRev, d.hasSnap = s.Rev, true
		}
	default:
		delete(m.docs, rec.Delete.Doc)
	}
	return nil
}

// decidedElsewhere reports whether a shared store must refuse a record of
// client's request req in d: the request is at or below the client's
// watermark.
func (m *model) decidedElsewhere(d *modelDoc, client, req string) bool {
	return m.shared && client != "" && req != "" && d.marks[client].Decided(req)
}

// advance raises client's watermark to o's request id and, when it rises,
// records o among the client's outcomes.
func (d *modelDoc) advance(client string, o revision.Outcome) {
	if d.marks == nil {
		d.marks = make(map[string]revision.Watermark)
	}
	if d.outcomes == nil {
		d.outcomes = make(map[string][]revision.Outcome)
	}
	old := d.marks[client]
	if d.marks[client] = old.Advance(o.ReqID); d.marks[client] != old {
		d.outcomes[client] = revision.AddOutcome(d.outcomes[client], o)
	}
}

// stateJSON encodes d's head state, for a snapshot record.
func (d *modelDoc) stateJSON() json.RawMessage {
	b, err := json.Marshal(d.state)
	if err != nil {
		panic(fmt.Sprintf("storetest: encoding a model state: %v", err))
	}
	return b
}

// applyOp applies op's payload to *state with package delta, after checking
// that the payload's shape matches its kind.
func applyOp(state *any, op *syncd.Op) error {
	switch c := firstByte(op.Payload); {
	case op.Kind == syncd.OpMerge && c != '{':
		return fmt.Errorf("op %d: kind %q with a payload that is not an object", op.Rev, op.Kind)
	case op.Kind == syncd.OpPatch && c != '[':
		return fmt.Errorf("op %d: kind %q with a payload that is not an array", op.Rev, op.Kind)
	}
	p, err := delta.ParsePatch(op.Payload)
	if err != nil {
		return fmt.Errorf("op %d: %w", op.Rev, err)
	}
	if _, err := p.Apply(state); err != nil {
		return fmt.Errorf("op %d: %w", op.Rev, err)
	}
	return nil
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// cloneJSON deep-copies a JSON value of delta's value model.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = cloneJSON(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = cloneJSON(e)
		}
		return a
	}
	return v
}

// opEqual reports whether two ops are the same operation: every field, and
// the payload byte for byte (stores keep payloads exactly as given).
func opEqual(a, b *syncd.Op) bool {
	return a.Rev == b.Rev && a.Kind == b.Kind && bytes.Equal(a.Payload, b.Payload) &&
		a.ClientID == b.ClientID && a.ClientReqID == b.ClientReqID && a.Time == b.Time
}
