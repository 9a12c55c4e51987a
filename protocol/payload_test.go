package protocol_test

import (
	"encoding/json"
	"testing"

	"github.com/deltasync/syncd/protocol"
)

// appJoin is an application's own message type, like the seed example's
// JOIN {participantId, name}: decoded by reflection with the same rules.
type appJoin struct {
	ParticipantID string          `json:"participantId"`
	Name          string          `json:"name"`
	Color         string          `json:"color,omitempty"`
	Age           *int            `json:"age"`
	Meta          json.RawMessage `json:"meta,omitempty"`
	Inner         *struct {
		X int `json:"x"`
	} `json:"inner,omitempty"`
	Tags    []string `json:"tags,omitzero"`
	ignored int
	Skip    int `json:"-"`
	embedded
}

type embedded struct {
	Room string `json:"room,omitempty"`
}

func TestDecodePayloadReflect(t *testing.T) {
	var p appJoin
	err := protocol.DecodePayload([]byte(`{"participantId":"p1","name":"Ann","age":3,"meta":{"a":1},"inner":{"x":2},"tags":["a"],"room":"r"}`), &p)
	if err != nil {
		t.Fatal(err)
	}
	if p.ParticipantID != "p1" || p.Name != "Ann" || *p.Age != 3 || p.Inner.X != 2 || p.Room != "r" || len(p.Tags) != 1 {
		t.Fatalf("%+v", p)
	}
	cases := []struct{ in, want string }{
		{`{"name":"Ann"}`, "payload.participantId: required"},
		{`{"participantId":null,"name":"Ann"}`, "payload.participantId: required, got null"},
		{`{"participantId":"p","name":5}`, "payload.name: want string, got number"},
		{`{"participantId":"p","name":"n","extra":1}`, "payload.extra: unknown field"},
		{`{"participantId":"p","name":"n","Skip":1}`, "payload.Skip: unknown field"},
		{`{"participantId":"p","name":"n","ignored":1}`, "payload.ignored: unknown field"},
		{`{"participantId":"p","name":"n","inner":{"x":1,"y":2}}`, `unknown field`},
		{`{"participantId":"p","name":"n","inner":{"x":"1"}}`, "payload.inner.x: want number, got string"},
		{`{"participantId":"p","name":"n","name":"m"}`, "payload.name: duplicate field"},
		{`{"participantId":"p","name":"n","tags":[1]}`, "want string, got number"},
		{`{"participantId":"p","Name":"n"}`, "payload.Name: unknown field"},
		{`[1]`, "payload: want object, got array"},
		{`{"participantId":"p",`, "invalid JSON"},
	}
	for _, c := range cases {
		var p appJoin
		wantFieldError(t, protocol.DecodePayload([]byte(c.in), &p), c.want)
	}
	// Optional pointer and omitempty fields may be absent or null.
	var q appJoin
	if err := protocol.DecodePayload([]byte(`{"participantId":"p","name":"n","age":null,"color":null}`), &q); err != nil {
		t.Fatal(err)
	}
	// An absent payload is {}.
	var empty struct{}
	if err := protocol.DecodePayload(nil, &empty); err != nil {
		t.Fatal(err)
	}
	// Non-struct targets get syntax checks and encoding/json's types.
	var n int
	if err := protocol.DecodePayload([]byte(`5`), &n); err != nil || n != 5 {
		t.Fatal(n, err)
	}
	wantFieldError(t, protocol.DecodePayload([]byte(`"x"`), &n), "payload: want number, got string")
	wantFieldError(t, protocol.DecodePayload([]byte(`5 6`), &n), "invalid JSON")
	// A non-pointer is a programming error.
	if err := protocol.DecodePayload([]byte(`{}`), empty); protocol.CodeOf(err) != protocol.CodeInternal {
		t.Fatal(err)
	}
}

func TestDecodePayloadUsesPayloadDecoder(t *testing.T) {
	var j protocol.Join
	wantFieldError(t, protocol.DecodePayload([]byte(`{"doc":"a","x":1}`), &j), "payload.x: unknown field")
	// Through encoding/json, nested in an application type, too.
	var wrapper struct {
		J protocol.Join `json:"j"`
	}
	wantFieldError(t, protocol.DecodePayload([]byte(`{"j":{"doc":1}}`), &wrapper), "payload.doc: want string, got number")
}
