package presence_test

import (
	"encoding/json"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/examples/presence"
)

func TestToOperation(t *testing.T) {
	cases := []struct {
		name    string
		op      syncd.Op
		want    presence.Operation
		wantErr bool
	}{
		{
			name: "join writes the whole participant",
			op:   syncd.Op{Rev: 1, Kind: syncd.OpMerge, Payload: json.RawMessage(`{"u1":{"id":"u1","name":"Alice","status":"online","lastActive":1000}}`)},
			want: presence.Operation{Rev: 1, Type: presence.OpJoined, Payload: json.RawMessage(`{"id":"u1","name":"Alice","status":"online","lastActive":1000}`)},
		},
		{
			name: "update writes what changed, and echoes the request",
			op:   syncd.Op{Rev: 2, Kind: syncd.OpMerge, Payload: json.RawMessage(`{"u1":{"status":"away","lastActive":5}}`), ClientReqID: "req-1"},
			want: presence.Operation{Rev: 2, Type: presence.OpUpdated, Payload: json.RawMessage(`{"id":"u1","status":"away","lastActive":5}`), ClientReqID: "req-1"},
		},
		{
			name: "an id that needs escaping",
			op:   syncd.Op{Rev: 3, Kind: syncd.OpMerge, Payload: json.RawMessage(`{"a\"b":{"name":"Q"}}`)},
			want: presence.Operation{Rev: 3, Type: presence.OpUpdated, Payload: json.RawMessage(`{"id":"a\"b","name":"Q"}`)},
		},
		{
			name: "leave is null",
			op:   syncd.Op{Rev: 4, Kind: syncd.OpMerge, Payload: json.RawMessage(`{"u1":null}`)},
			want: presence.Operation{Rev: 4, Type: presence.OpLeft, Payload: json.RawMessage(`{"id":"u1"}`)},
		},
		{name: "a JSON Patch", op: syncd.Op{Rev: 5, Kind: syncd.OpPatch, Payload: json.RawMessage(`[{"op":"remove","path":"/u1"}]`)}, wantErr: true},
		{name: "two participants", op: syncd.Op{Rev: 6, Kind: syncd.OpMerge, Payload: json.RawMessage(`{"a":null,"b":null}`)}, wantErr: true},
		{name: "no participant", op: syncd.Op{Rev: 7, Kind: syncd.OpMerge, Payload: json.RawMessage(`{}`)}, wantErr: true},
		{name: "a non-object participant", op: syncd.Op{Rev: 8, Kind: syncd.OpMerge, Payload: json.RawMessage(`{"a":3}`)}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := presence.ToOperation(&tc.op)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Rev != tc.want.Rev || got.Type != tc.want.Type || got.ClientReqID != tc.want.ClientReqID || string(got.Payload) != string(tc.want.Payload) {
				t.Fatalf("got %+v (payload %s), want %+v (payload %s)", got, got.Payload, tc.want, tc.want.Payload)
			}
			if !json.Valid(got.Payload) {
				t.Fatalf("payload %s is not JSON", got.Payload)
			}
		})
	}
}
