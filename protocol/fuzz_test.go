package protocol_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/deltasync/syncd/protocol"
)

// The fuzz targets check two properties of every decoder: it never panics,
// and whatever it accepts re-encodes to valid JSON that decodes to the same
// value. Run one for a while with, e.g.:
//
//	go test ./protocol/ -run '^$' -fuzz '^FuzzDecodeEnvelope$' -fuzztime 10s

func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"type":"JOIN","meta":{"timestamp":1,"correlationId":"c"},"payload":{"doc":"a"}}`,
		`{"type":"__heartbeat"}`,
		`{"type":"__heartbeat_ack","meta":{"ts":5}}`,
		`{"type":"X","payload":[1,"2",{"3":null},true,false,-1.5e3]}`,
		`{"type":"\u00e9\ud83c\udf89","meta":{"x":[]}}`,
		`[]`, `{`, `{"type":1}`, ``,
		// Long strings and numbers, for the scanner's eight-bytes-at-a-time
		// paths.
		`{"type":"SYNC.SNAPSHOT","payload":{"state":{"k12":{"~":1764000000000000000,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}}}`,
		`{"type":"X","payload":["abcdefghijklmnopq\"rstuvwxyz\u00e9ABCDEFGHé😀IJKLMNOP",12345678901234567890.12345678e-123456789]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := protocol.DecodeEnvelope(data)
		if err != nil {
			if protocol.CodeOf(err) != protocol.CodeInvalidArgument {
				t.Fatalf("error with code %s: %v", protocol.CodeOf(err), err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		enc := protocol.AppendEnvelope(nil, env.Type, env.Meta, env.Payload)
		if !json.Valid(enc) {
			t.Fatalf("encoded invalid JSON %q", enc)
		}
		back, err := protocol.DecodeEnvelope(enc)
		if err != nil {
			t.Fatalf("re-decode of %q: %v", enc, err)
		}
		if back.Type != env.Type || back.Meta != env.Meta || !bytes.Equal(back.Payload, env.Payload) {
			t.Fatalf("round trip changed %+v to %+v", env, back)
		}
	})
}

// fuzzPayload runs the round-trip property for one payload type.
func fuzzPayload[T any, P interface {
	*T
	payload
}](f *testing.F, name string) {
	for _, sp := range specs {
		if sp.name == name {
			f.Add([]byte(object(sp.fields)))
			for _, r := range sp.required {
				f.Add([]byte(object(without(sp.fields, r))))
			}
		}
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"doc":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v T
		if err := P(&v).UnmarshalPayload(data); err != nil {
			if protocol.CodeOf(err) != protocol.CodeInvalidArgument {
				t.Fatalf("error with code %s: %v", protocol.CodeOf(err), err)
			}
			return
		}
		enc := P(&v).AppendJSON(nil)
		if !json.Valid(enc) {
			t.Fatalf("encoded invalid JSON %q", enc)
		}
		var back T
		if err := P(&back).UnmarshalPayload(enc); err != nil {
			t.Fatalf("re-decode of %q: %v", enc, err)
		}
		if !reflect.DeepEqual(v, back) {
			t.Fatalf("round trip changed\n %+v\nto\n %+v\n(encoded %s)", v, back, enc)
		}
	})
}

func FuzzJoin(f *testing.F)         { fuzzPayload[protocol.Join](f, "JOIN") }
func FuzzUpdate(f *testing.F)       { fuzzPayload[protocol.Update](f, "UPDATE") }
func FuzzLeave(f *testing.F)        { fuzzPayload[protocol.Leave](f, "LEAVE") }
func FuzzPresenceSet(f *testing.F)  { fuzzPayload[protocol.PresenceSet](f, "PRESENCE.SET") }
func FuzzPublish(f *testing.F)      { fuzzPayload[protocol.Publish](f, "PUBLISH") }
func FuzzSubscribe(f *testing.F)    { fuzzPayload[protocol.Subscribe](f, "SUBSCRIBE") }
func FuzzUnsubscribe(f *testing.F)  { fuzzPayload[protocol.Unsubscribe](f, "UNSUBSCRIBE") }
func FuzzHeartbeat(f *testing.F)    { fuzzPayload[protocol.Heartbeat](f, "HEARTBEAT") }
func FuzzHello(f *testing.F)        { fuzzPayload[protocol.Hello](f, "HELLO") }
func FuzzAuthRefresh(f *testing.F)  { fuzzPayload[protocol.AuthRefresh](f, "AUTH.REFRESH") }
func FuzzSyncSnapshot(f *testing.F) { fuzzPayload[protocol.SyncSnapshot](f, "SYNC.SNAPSHOT") }
func FuzzSyncDeltas(f *testing.F)   { fuzzPayload[protocol.SyncDeltas](f, "SYNC.DELTAS") }
func FuzzRevisionGap(f *testing.F)  { fuzzPayload[protocol.RevisionGap](f, "REVISION_GAP") }
func FuzzPresence(f *testing.F)     { fuzzPayload[protocol.Presence](f, "PRESENCE") }
func FuzzMessage(f *testing.F)      { fuzzPayload[protocol.Message](f, "MESSAGE") }
func FuzzErrorPayload(f *testing.F) { fuzzPayload[protocol.ErrorPayload](f, "ERROR") }
