package boltstore

import (
	"bytes"
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

func opEqual(a, b *syncd.Op) bool {
	return a.Rev == b.Rev && a.Kind == b.Kind && bytes.Equal(a.Payload, b.Payload) &&
		a.ClientID == b.ClientID && a.ClientReqID == b.ClientReqID && a.Time == b.Time
}

func genOp(t *rapid.T) *syncd.Op {
	return &syncd.Op{
		Rev:         revision.Rev(rapid.Uint64().Draw(t, "rev")),
		Kind:        syncd.OpKind(rapid.SampledFrom([]string{"patch", "merge", "", "custom"}).Draw(t, "kind")),
		Payload:     rapid.SliceOf(rapid.Byte()).Draw(t, "payload"),
		ClientID:    rapid.String().Draw(t, "client"),
		ClientReqID: rapid.String().Draw(t, "req"),
		Time:        rapid.Int64().Draw(t, "time"),
	}
}

func genMeta(t *rapid.T) *meta {
	head := revision.Rev(rapid.Uint64Range(0, 1<<62).Draw(t, "head"))
	snap := revision.Rev(rapid.Uint64Range(0, uint64(head)).Draw(t, "snap"))
	first := revision.Rev(rapid.Uint64Range(1, uint64(snap)+1).Draw(t, "first"))
	return &meta{
		Epoch: revision.Epoch(rapid.String().Draw(t, "epoch")),
		Head:  head, First: first, SnapRev: snap,
		Created: rapid.Int64().Draw(t, "created"),
		Updated: rapid.Int64().Draw(t, "updated"),
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	t.Run("Op", rapid.MakeCheck(func(t *rapid.T) {
		op := genOp(t)
		got, err := decodeOp(encodeOp(op))
		if err != nil || !opEqual(got, op) {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", op, got, err)
		}
	}))
	t.Run("Meta", rapid.MakeCheck(func(t *rapid.T) {
		m := genMeta(t)
		got, err := decodeMeta(encodeMeta(m))
		if err != nil || *got != *m {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", m, got, err)
		}
	}))
	t.Run("Snapshot", rapid.MakeCheck(func(t *rapid.T) {
		rev := revision.Rev(rapid.Uint64().Draw(t, "rev"))
		state := rapid.SliceOf(rapid.Byte()).Draw(t, "state")
		gotRev, gotState, err := decodeSnapshot(encodeSnapshot(rev, state))
		if err != nil || gotRev != rev || !bytes.Equal(gotState, state) {
			t.Fatalf("decode(encode(%d, %q)) = %d, %q, %v", rev, state, gotRev, gotState, err)
		}
	}))
	t.Run("Mark", rapid.MakeCheck(func(t *rapid.T) {
		w := revision.Watermark{ReqID: rapid.StringN(1, 64, -1).Draw(t, "req")}
		got, err := decodeMark(encodeMark(w))
		if err != nil || got != w {
			t.Fatalf("decode(encode(%q)) = %q, %v", w.ReqID, got.ReqID, err)
		}
	}))
}

// TestDecodeTruncated cuts valid values short: every cut inside the fixed
// fields must be an error, never a panic or a wrong value.
func TestDecodeTruncated(t *testing.T) {
	m := encodeMeta(&meta{Epoch: "01J00000000000000000000001", Head: 300, First: 200, SnapRev: 250, Created: 5, Updated: -7})
	for i := range len(m) {
		if _, err := decodeMeta(m[:i]); !errors.Is(err, errCorrupt) {
			t.Errorf("meta cut to %d bytes: %v", i, err)
		}
	}
	op := &syncd.Op{Rev: 1 << 40, Kind: "custom", ClientID: "client", ClientReqID: "req", Time: 1 << 50}
	enc := encodeOp(op)
	for i := range len(enc) {
		if _, err := decodeOp(enc[:i]); !errors.Is(err, errCorrupt) {
			t.Errorf("op cut to %d bytes: %v", i, err)
		}
	}
	for _, v := range [][]byte{nil, {}, {2}, {encodingV1}} {
		if _, err := decodeMark(v); !errors.Is(err, errCorrupt) {
			t.Errorf("mark %v: %v", v, err)
		}
		if _, _, err := decodeSnapshot(v); !errors.Is(err, errCorrupt) {
			t.Errorf("snapshot %v: %v", v, err)
		}
	}
	bad := encodeMeta(&meta{Epoch: "e", Head: 3, First: 5})
	if _, err := decodeMeta(bad); !errors.Is(err, errCorrupt) {
		t.Errorf("meta with First past Head+1: %v", err)
	}
}

func FuzzDecodeOp(f *testing.F) {
	f.Add(encodeOp(&syncd.Op{Rev: 7, Kind: syncd.OpMerge, Payload: []byte(`{"a":1}`), ClientID: "c", ClientReqID: "r-1", Time: 1700000000000}))
	f.Add(encodeOp(&syncd.Op{Rev: 1, Kind: syncd.OpPatch, Payload: []byte(`[]`)}))
	f.Add(encodeOp(&syncd.Op{Rev: 1 << 63, Kind: "other", Time: -1}))
	f.Add([]byte{encodingV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{encodingV1, 1, kindOther, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		op, err := decodeOp(data)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not wrap errCorrupt", err)
			}
			return
		}
		again, err := decodeOp(encodeOp(op))
		if err != nil || !opEqual(again, op) {
			t.Fatalf("re-encoding %+v gives %+v, %v", op, again, err)
		}
	})
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add(encodeMeta(&meta{Epoch: "01J00000000000000000000001", Head: 10, First: 3, SnapRev: 5, Created: 1, Updated: 2}))
	f.Add(encodeMeta(&meta{First: 1}))
	f.Add([]byte{encodingV1, 0x80})
	f.Add(encodeMeta(&meta{Epoch: "e", Head: 9, First: 1, JSeq: 40, JRev: 7}))
	// A layout-1 meta: no journal fields.
	f.Add([]byte{encodingV1, 1, 'e', 9, 1, 0, 2, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMeta(data)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not wrap errCorrupt", err)
			}
			return
		}
		again, err := decodeMeta(encodeMeta(m))
		if err != nil || *again != *m {
			t.Fatalf("re-encoding %+v gives %+v, %v", m, again, err)
		}
	})
}

// FuzzDecodeEntry: a journal entry splits into a document id and a run of
// ops without panicking, and what it splits into re-encodes to an entry
// that decodes the same.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry([]byte("doc"), runOf(&syncd.Op{Rev: 7, Kind: syncd.OpMerge, Payload: []byte(`{"a":1}`), ClientID: "c", ClientReqID: "r-1", Time: 1})))
	f.Add(encodeEntry([]byte("d"), runOf(&syncd.Op{Rev: 1, Kind: "other"}, &syncd.Op{Rev: 2, Kind: syncd.OpPatch, Payload: []byte(`[]`)})))
	f.Add([]byte{encodingV1, 0xff, 0x01})
	f.Add([]byte{encodingV1, 0, encodingRun, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, run, err := entryDoc(data)
		var ops []*syncd.Op
		if err == nil {
			err = eachRunOp(run, func(rev revision.Rev, enc []byte) (bool, error) {
				_, client, req, err := opHeader(enc)
				if err != nil {
					return false, err
				}
				op, err := decodeOp(enc)
				if err != nil {
					return false, err
				}
				if rev != op.Rev || string(client) != op.ClientID || string(req) != op.ClientReqID {
					t.Fatalf("opHeader = %d %q %q, decodeOp = %+v", rev, client, req, op)
				}
				ops = append(ops, op)
				return true, nil
			})
		}
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not wrap errCorrupt", err)
			}
			return
		}
		doc2, run2, err := entryDoc(encodeEntry(doc, runOf(ops...)))
		if err != nil || !bytes.Equal(doc2, doc) {
			t.Fatalf("re-encoding: document %q, %v; want %q", doc2, err, doc)
		}
		i := 0
		err = eachRunOp(run2, func(_ revision.Rev, enc []byte) (bool, error) {
			op, err := decodeOp(enc)
			if err == nil && (i >= len(ops) || !opEqual(op, ops[i])) {
				t.Fatalf("re-encoding: op %d is %+v", i, op)
			}
			i++
			return true, err
		})
		if err != nil || i != len(ops) {
			t.Fatalf("re-encoding: %d ops, %v; want %d", i, err, len(ops))
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(encodeSnapshot(42, []byte(`{"a":[1,2]}`)))
	f.Add(encodeSnapshot(0, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		rev, state, err := decodeSnapshot(data)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not wrap errCorrupt", err)
			}
			return
		}
		rev2, state2, err := decodeSnapshot(encodeSnapshot(rev, state))
		if err != nil || rev2 != rev || !bytes.Equal(state2, state) {
			t.Fatalf("re-encoding (%d, %q) gives (%d, %q), %v", rev, state, rev2, state2, err)
		}
	})
}

func FuzzDecodeMark(f *testing.F) {
	f.Add(encodeMark(revision.Watermark{ReqID: "01JD0000000000000000000002"}))
	f.Add([]byte{encodingV1})
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := decodeMark(data)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not wrap errCorrupt", err)
			}
			return
		}
		again, err := decodeMark(encodeMark(w))
		if err != nil || again != w {
			t.Fatalf("re-encoding %q gives %q, %v", w.ReqID, again.ReqID, err)
		}
	})
}

// FuzzOpRoundTrip builds ops from arbitrary fields: encode then decode must
// give the op back.
func FuzzOpRoundTrip(f *testing.F) {
	f.Add(uint64(1), "merge", []byte(`{"a":1}`), "c", "r", int64(5))
	f.Add(uint64(1<<63), "", []byte{}, "", "", int64(-1<<63))
	f.Fuzz(func(t *testing.T, rev uint64, kind string, payload []byte, client, req string, ts int64) {
		op := &syncd.Op{Rev: revision.Rev(rev), Kind: syncd.OpKind(kind), Payload: payload, ClientID: client, ClientReqID: req, Time: ts}
		got, err := decodeOp(encodeOp(op))
		if err != nil || !opEqual(got, op) {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", op, got, err)
		}
	})
}
