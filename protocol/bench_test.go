package protocol_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
)

var benchUpdate = []byte(`{"type":"UPDATE","meta":{"timestamp":1730450000123,"correlationId":"5f0c7d8e-3b1a-4c2d-9e8f-7a6b5c4d3e2f"},"payload":{"doc":"todo:list/42","patch":[{"op":"replace","path":"/items/3/done","value":true},{"op":"add","path":"/items/-","value":{"title":"buy milk","done":false}}],"baseRev":1041,"epoch":"01HZY0J5Q8X6T9V3N2M4K7P1RA","clientReqId":"01HZY0K2B7C8D9E0F1G2H3J4K5"}}`)

// BenchmarkDecodeUpdate is the per-message decode of the router: envelope,
// then the typed payload, then validation.
func BenchmarkDecodeUpdate(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchUpdate)))
	for b.Loop() {
		env, err := protocol.DecodeEnvelope(benchUpdate)
		if err != nil {
			b.Fatal(err)
		}
		var u protocol.Update
		if err := protocol.DecodePayload(env.Payload, &u); err != nil {
			b.Fatal(err)
		}
		if err := u.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// stdEnvelope and stdUpdate are the same message decoded the obvious way
// with encoding/json, for comparison: DisallowUnknownFields, pointers to
// detect missing fields, and a second decode for the payload.
type stdEnvelope struct {
	Type *string `json:"type"`
	Meta *struct {
		Timestamp     *int64  `json:"timestamp"`
		CorrelationID *string `json:"correlationId"`
	} `json:"meta"`
	Payload json.RawMessage `json:"payload"`
}

type stdUpdate struct {
	Doc         *string         `json:"doc"`
	Patch       json.RawMessage `json:"patch"`
	BaseRev     *revision.Rev   `json:"baseRev"`
	Epoch       *string         `json:"epoch"`
	ClientReqID *string         `json:"clientReqId"`
}

func BenchmarkDecodeUpdateEncodingJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchUpdate)))
	for b.Loop() {
		var env stdEnvelope
		d := json.NewDecoder(bytes.NewReader(benchUpdate))
		d.DisallowUnknownFields()
		if err := d.Decode(&env); err != nil || env.Type == nil {
			b.Fatal(err)
		}
		var u stdUpdate
		d = json.NewDecoder(bytes.NewReader(env.Payload))
		d.DisallowUnknownFields()
		if err := d.Decode(&u); err != nil || u.Doc == nil || u.ClientReqID == nil || u.Patch == nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEnvelope(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchUpdate)))
	for b.Loop() {
		if _, err := protocol.DecodeEnvelope(benchUpdate); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSyncDeltas(b *testing.B) {
	d := protocol.SyncDeltas{Doc: "todo:list/42", Epoch: ulid, FromRev: 1041, ToRev: 1043, Operations: []protocol.Operation{
		{Rev: 1042, Type: protocol.OpPatch, Payload: json.RawMessage(`[{"op":"replace","path":"/items/3/done","value":true}]`), ClientID: ulid, ClientReqID: "01HZY0K2B7C8D9E0F1G2H3J4K5", Ts: 1730450000123},
		{Rev: 1043, Type: protocol.OpMerge, Payload: json.RawMessage(`{"title":"groceries"}`), ClientID: ulid, ClientReqID: "01HZY0K2B7C8D9E0F1G2H3J4K6", Ts: 1730450000124},
	}}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = protocol.AppendMessage(buf[:0], protocol.TypeSyncDeltas, protocol.Meta{Timestamp: 1730450000125}, d)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEncodeSyncDeltasEncodingJSON(b *testing.B) {
	type op struct {
		Rev         revision.Rev    `json:"rev"`
		Type        string          `json:"type"`
		Payload     json.RawMessage `json:"payload"`
		ClientID    string          `json:"clientId,omitempty"`
		ClientReqID string          `json:"clientReqId,omitempty"`
		Ts          int64           `json:"ts"`
	}
	type deltas struct {
		Doc        string       `json:"doc"`
		Epoch      string       `json:"epoch"`
		FromRev    revision.Rev `json:"fromRev"`
		ToRev      revision.Rev `json:"toRev"`
		Operations []op         `json:"operations"`
	}
	type msg struct {
		Type string `json:"type"`
		Meta struct {
			Timestamp int64 `json:"timestamp"`
		} `json:"meta"`
		Payload deltas `json:"payload"`
	}
	m := msg{Type: protocol.TypeSyncDeltas, Payload: deltas{Doc: "todo:list/42", Epoch: ulid, FromRev: 1041, ToRev: 1043, Operations: []op{
		{Rev: 1042, Type: "patch", Payload: json.RawMessage(`[{"op":"replace","path":"/items/3/done","value":true}]`), ClientID: ulid, ClientReqID: "01HZY0K2B7C8D9E0F1G2H3J4K5", Ts: 1730450000123},
		{Rev: 1043, Type: "merge", Payload: json.RawMessage(`{"title":"groceries"}`), ClientID: ulid, ClientReqID: "01HZY0K2B7C8D9E0F1G2H3J4K6", Ts: 1730450000124},
	}}}
	m.Meta.Timestamp = 1730450000125
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(&m); err != nil {
			b.Fatal(err)
		}
	}
}

// bigState returns a JSON object of n members shaped like a collaborative
// document's state: {"k0":{"~":1764000000000000000,"pad":"xx…x"},…}, each
// pad 80 bytes of plain ASCII.
func bigState(n int) []byte {
	pad := bytes.Repeat([]byte{'x'}, 80)
	dst := []byte{'{'}
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"k`...)
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, `":{"~":1764000000000000000,"pad":"`...)
		dst = append(dst, pad...)
		dst = append(dst, `"}`...)
	}
	return append(dst, '}')
}

// BenchmarkDecodeSyncSnapshotLarge is what a client does with a large
// SYNC.SNAPSHOT (about 120 KB): DecodeEnvelope, then UnmarshalPayload.
func BenchmarkDecodeSyncSnapshotLarge(b *testing.B) {
	msg, err := protocol.Encode(protocol.TypeSyncSnapshot, protocol.Meta{Timestamp: 1730450000125}, protocol.SyncSnapshot{
		Doc: "todo:list/42", Epoch: ulid, Rev: 1041, State: bigState(1000),
	})
	if err != nil {
		b.Fatal(err)
	}
	benchDecodeAsClient(b, msg, func() protocol.PayloadDecoder { return new(protocol.SyncSnapshot) })
}

// BenchmarkDecodeSyncDeltasLarge is a SYNC.DELTAS with one operation whose
// payload is about 60 KB, decoded as a client does.
func BenchmarkDecodeSyncDeltasLarge(b *testing.B) {
	msg, err := protocol.Encode(protocol.TypeSyncDeltas, protocol.Meta{Timestamp: 1730450000125}, protocol.SyncDeltas{
		Doc: "todo:list/42", Epoch: ulid, FromRev: 1041, ToRev: 1042, Operations: []protocol.Operation{
			{Rev: 1042, Type: protocol.OpMerge, Payload: bigState(500), ClientID: ulid, ClientReqID: "01HZY0K2B7C8D9E0F1G2H3J4K5", Ts: 1730450000123},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	benchDecodeAsClient(b, msg, func() protocol.PayloadDecoder { return new(protocol.SyncDeltas) })
}

// benchDecodeAsClient decodes msg as a client does: the envelope, then
// its payload into a new value.
func benchDecodeAsClient(b *testing.B, msg []byte, into func() protocol.PayloadDecoder) {
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		env, err := protocol.DecodeServerEnvelope(msg)
		if err != nil {
			b.Fatal(err)
		}
		if err := into().UnmarshalPayload(env.Payload); err != nil {
			b.Fatal(err)
		}
	}
}
