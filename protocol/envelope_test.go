package protocol_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/deltasync/syncd/protocol"
)

func TestDecodeEnvelope(t *testing.T) {
	env, err := protocol.DecodeEnvelope([]byte(` {"type":"JOIN","meta":{"timestamp":1730450000123,"correlationId":"r-42","extra":[1,{"a":null}]},"payload":{"doc":"a"}} `))
	if err != nil {
		t.Fatal(err)
	}
	if env.Type != "JOIN" || env.Meta.Timestamp != 1730450000123 || env.Meta.CorrelationID != "r-42" {
		t.Fatalf("envelope = %+v", env)
	}
	if string(env.Payload) != `{"doc":"a"}` {
		t.Fatalf("payload = %s", env.Payload)
	}
}

// TestDecodeServerEnvelope: a client ignores top-level keys it does not
// know, and is otherwise as strict as DecodeEnvelope.
func TestDecodeServerEnvelope(t *testing.T) {
	in := []byte(`{"type":"SYNC.SNAPSHOT","future":{"x":[1,"y"]},"meta":{"correlationId":"j-1"},"payload":{"doc":"a"},"later":true}`)
	if _, err := protocol.DecodeEnvelope(in); err == nil || !strings.Contains(err.Error(), "future: unknown field") {
		t.Fatalf("DecodeEnvelope: %v, want an unknown field", err)
	}
	env, err := protocol.DecodeServerEnvelope(in)
	if err != nil || env.Type != "SYNC.SNAPSHOT" || env.Meta.CorrelationID != "j-1" || string(env.Payload) != `{"doc":"a"}` {
		t.Fatalf("DecodeServerEnvelope = %+v, %v", env, err)
	}
	for _, bad := range []string{`{"type":"X","future":[1,}`, `{"future":1}`, `{"type":"X","meta":{"timestamp":"now"}}`, `[]`} {
		if _, err := protocol.DecodeServerEnvelope([]byte(bad)); err == nil {
			t.Errorf("DecodeServerEnvelope(%s) accepted", bad)
		}
	}
}

func TestDecodeEnvelopeMinimal(t *testing.T) {
	for _, in := range []string{`{"type":"__heartbeat"}`, `{"type":"X","payload":null}`, `{"type":"X","meta":null}`, `{"type":"X","meta":{}}`} {
		env, err := protocol.DecodeEnvelope([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if env.Payload != nil || !env.Meta.IsZero() {
			t.Fatalf("%s: envelope = %+v", in, env)
		}
	}
}

// TestDecodeEnvelopeErrors checks every way an envelope can be bad: each is
// an INVALID_ARGUMENT naming the field.
func TestDecodeEnvelopeErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{``, "invalid JSON"},
		{`{"type":"X"`, "invalid JSON"},
		{`{"type":"X"} x`, "invalid JSON: unexpected data after the value"},
		{`{"type":"X",}`, "invalid JSON"},
		{`{"type":"X","payload":{"a":}}`, "invalid JSON"},
		{`{"type":"X","payload":[1,2,]}`, "invalid JSON"},
		{"{\"type\":\"X\",\"payload\":\"\x01\"}", "invalid JSON: control character"},
		{`{"type":"X","payload":"\x"}`, "invalid JSON: invalid escape"},
		{"{\"type\":\"X\",\"payload\":\"\xff\"}", "invalid JSON: invalid UTF-8"},
		{`{"type":"X","payload":01}`, "invalid JSON"},
		{`{"type":"X","payload":tru}`, "invalid JSON"},
		{`not json`, "invalid JSON"},
		{`nul`, "invalid JSON"},
		{`tru`, "invalid JSON"},
		{`-x`, "invalid JSON"},
		{`"open`, "invalid JSON"},
		{`[]`, "message: want object, got array"},
		{`"JOIN"`, "message: want object, got string"},
		{`42`, "message: want object, got number"},
		{`null`, "message: want object, got null"},
		{`{}`, "type: required"},
		{`{"meta":{}}`, "type: required"},
		{`{"type":""}`, "type: must not be empty"},
		{`{"type":null}`, "type: required, got null"},
		{`{"type":7}`, "type: want string, got number"},
		{`{"type":"X","type":"Y"}`, "type: duplicate field"},
		{`{"type":"X","foo":1}`, "foo: unknown field"},
		{`{"type":"X","Meta":{}}`, "Meta: unknown field"},
		{`{"type":"X","meta":[]}`, "meta: want object, got array"},
		{`{"type":"X","meta":{"timestamp":"now"}}`, "meta.timestamp: want number, got string"},
		{`{"type":"X","meta":{"timestamp":-1}}`, "meta.timestamp: want a non-negative integer"},
		{`{"type":"X","meta":{"timestamp":1.5}}`, "meta.timestamp: want a non-negative integer"},
		{`{"type":"X","meta":{"correlationId":5}}`, "meta.correlationId: want string, got number"},
		{`{"type":"X","meta":{"correlationId":"` + strings.Repeat("a", 129) + `"}}`, "meta.correlationId: longer than"},
		{`{"type":"` + strings.Repeat("T", 129) + `"}`, "type: longer than"},
		{strings.Repeat("[", 600) + strings.Repeat("]", 600), "message: want object, got array"},
		{`{"type":"X","payload":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`, "nesting too deep"},
	}
	for _, c := range cases {
		_, err := protocol.DecodeEnvelope([]byte(c.in))
		if err == nil {
			t.Errorf("%.60s: no error, want %q", c.in, c.want)
			continue
		}
		var e *protocol.Error
		if !errors.As(err, &e) || e.Code != protocol.CodeInvalidArgument {
			t.Errorf("%.60s: error %v is not INVALID_ARGUMENT", c.in, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.60s: error %q, want it to contain %q", c.in, err, c.want)
		}
	}
}

func TestAppendMessageOmitsAbsent(t *testing.T) {
	cases := []struct {
		typ     string
		meta    protocol.Meta
		payload any
		want    string
	}{
		{"__heartbeat_ack", protocol.Meta{TS: 5}, nil, `{"type":"__heartbeat_ack","meta":{"ts":5}}`},
		{"X", protocol.Meta{}, nil, `{"type":"X"}`},
		{"X", protocol.Meta{Timestamp: 1}, map[string]int{"a": 1}, `{"type":"X","meta":{"timestamp":1},"payload":{"a":1}}`},
		{"X", protocol.Meta{CorrelationID: "c\"1"}, []byte(`[1]`), `{"type":"X","meta":{"correlationId":"c\"1"},"payload":[1]}`},
		{"X", protocol.Meta{Timestamp: 2, CorrelationID: "c"}, protocol.Leave{Doc: "d"}, `{"type":"X","meta":{"timestamp":2,"correlationId":"c"},"payload":{"doc":"d"}}`},
		{"X", protocol.Meta{}, (*struct{})(nil), `{"type":"X"}`},
	}
	for _, c := range cases {
		got, err := protocol.Encode(c.typ, c.meta, c.payload)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
		env, err := protocol.DecodeEnvelope(got)
		if err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		if env.Type != c.typ || env.Meta != c.meta {
			t.Errorf("round trip of %s: %+v", got, env)
		}
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	payload := []byte(`{"doc":"a","patch":[{"op":"add","path":"/x","value":"\u00e9\n"}],"clientReqId":"1"}`)
	b := protocol.AppendEnvelope(nil, "UPDATE", protocol.Meta{Timestamp: 9, CorrelationID: "r"}, payload)
	env, err := protocol.DecodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if env.Type != "UPDATE" || !bytes.Equal(env.Payload, payload) || env.Meta.CorrelationID != "r" {
		t.Fatalf("%+v", env)
	}
	var u protocol.Update
	if err := protocol.DecodePayload(env.Payload, &u); err != nil {
		t.Fatal(err)
	}
	if u.PatchKind() != protocol.OpPatch || u.ClientReqID != "1" {
		t.Fatalf("%+v", u)
	}
}

func TestStringEscapes(t *testing.T) {
	for _, s := range []string{"plain", "quote\" back\\ slash/", "ctl\x00\x1f\t\n\r", "é ü 日本 🎉", "\u2028\u2029", "bad\xffutf8"} {
		b, _ := protocol.Encode(s, protocol.Meta{}, nil)
		env, err := protocol.DecodeEnvelope(b)
		if err != nil {
			t.Fatalf("%q: %s: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if env.Type != want {
			t.Errorf("%q: decoded %q", s, env.Type)
		}
	}
	// Escapes in input, including a surrogate pair.
	env, err := protocol.DecodeEnvelope([]byte(`{"type":"a\u0041\ud83c\udf89x\/"}`))
	if err != nil {
		t.Fatal(err)
	}
	if env.Type != "aA🎉x/" {
		t.Errorf("decoded %q", env.Type)
	}
	// A lone surrogate, anywhere in the message, is refused: decoders read
	// it differently (U+FFFD, or kept as it is by JSON.parse), so clients
	// would not agree on the value.
	for _, msg := range []string{
		`{"type":"a\ud800x"}`,
		`{"type":"a\udc00"}`,
		`{"type":"a\ud800\u0041"}`,
		`{"type":"a\ud800"}`,
		`{"type":"x","payload":{"m":{"\udbff":1}}}`,
		`{"type":"x","payload":["\ud83c\ud83c"]}`,
	} {
		_, err := protocol.DecodeEnvelope([]byte(msg))
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeInvalidArgument || !strings.Contains(pe.Message, "surrogate") {
			t.Errorf("%s: %v, want INVALID_ARGUMENT naming the lone surrogate", msg, err)
		}
	}
	// Escaped keys match.
	env, err = protocol.DecodeEnvelope([]byte(`{"t\u0079pe":"X"}`))
	if err != nil || env.Type != "X" {
		t.Errorf("escaped key: %+v %v", env, err)
	}
}
