package protocol_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
)

// payload is what every payload type of the package implements.
type payload interface {
	protocol.PayloadDecoder
	protocol.Appender
}

// spec describes one payload type for the table-driven strictness tests.
type spec struct {
	name string
	new  func() payload
	// fields maps each field to a valid JSON value.
	fields map[string]string
	// required lists the required fields.
	required []string
	// want maps a field to the JSON type named in a type error; fields not
	// listed accept any JSON value.
	want map[string]string
	// lenient types skip unknown fields.
	lenient bool
	// always lists optional fields that are nevertheless always encoded.
	always []string
}

const ulid = "01HZY0J5Q8X6T9V3N2M4K7P1RA"

var specs = []spec{
	{
		name:     "JOIN",
		new:      func() payload { return new(protocol.Join) },
		fields:   map[string]string{"doc": `"todo:1"`, "rev": `7`, "epoch": `"` + ulid + `"`, "presence": `{"name":"ann"}`},
		required: []string{"doc"},
		want:     map[string]string{"doc": "string", "rev": "number", "epoch": "string"},
	},
	{
		name:     "UPDATE",
		new:      func() payload { return new(protocol.Update) },
		fields:   map[string]string{"doc": `"todo:1"`, "patch": `[{"op":"add","path":"/a","value":1}]`, "baseRev": `0`, "epoch": `"` + ulid + `"`, "clientReqId": `"r-1"`},
		required: []string{"doc", "patch", "clientReqId"},
		want:     map[string]string{"doc": "string", "patch": "array or object", "baseRev": "number", "epoch": "string", "clientReqId": "string"},
	},
	{
		name: "LEAVE", new: func() payload { return new(protocol.Leave) },
		fields: map[string]string{"doc": `"a"`}, required: []string{"doc"}, want: map[string]string{"doc": "string"},
	},
	{
		name: "PRESENCE.SET", new: func() payload { return new(protocol.PresenceSet) },
		fields: map[string]string{"doc": `"a"`, "state": `{"cursor":[1,2]}`}, required: []string{"doc", "state"}, want: map[string]string{"doc": "string"},
	},
	{
		name: "PUBLISH", new: func() payload { return new(protocol.Publish) },
		fields: map[string]string{"doc": `"a"`, "topic": `"t"`, "data": `"hi"`}, required: []string{"data"}, want: map[string]string{"doc": "string", "topic": "string"},
	},
	{
		name: "SUBSCRIBE", new: func() payload { return new(protocol.Subscribe) },
		fields: map[string]string{"topic": `"t"`}, required: []string{"topic"}, want: map[string]string{"topic": "string"},
	},
	{
		name: "UNSUBSCRIBE", new: func() payload { return new(protocol.Unsubscribe) },
		fields: map[string]string{"topic": `"t"`}, required: []string{"topic"}, want: map[string]string{"topic": "string"},
	},
	{
		name: "HEARTBEAT", new: func() payload { return new(protocol.Heartbeat) },
		fields: map[string]string{},
	},
	{
		name: "AUTH.REFRESH", new: func() payload { return new(protocol.AuthRefresh) },
		fields: map[string]string{"token": `"eyJ.eyJ.sig"`}, required: []string{"token"}, want: map[string]string{"token": "string"},
	},
	{
		name: "AUTH.REFRESH.OK", new: func() payload { return new(protocol.AuthRefreshOK) },
		fields: map[string]string{"exp": `1730453600`}, want: map[string]string{"exp": "number"}, lenient: true,
	},
	{
		name:     "HELLO",
		new:      func() payload { return new(protocol.Hello) },
		fields:   map[string]string{"clientId": `"` + ulid + `"`, "protocol": `"syncd/1"`, "heartbeatMs": `25000`, "limits": `{"maxMessageBytes":65536,"messagesPerSecond":50}`},
		required: []string{"clientId", "protocol", "heartbeatMs", "limits"},
		want:     map[string]string{"clientId": "string", "protocol": "string", "heartbeatMs": "number", "limits": "object"},
		lenient:  true,
	},
	{
		name:     "SYNC.SNAPSHOT",
		new:      func() payload { return new(protocol.SyncSnapshot) },
		fields:   map[string]string{"doc": `"a"`, "epoch": `"` + ulid + `"`, "rev": `3`, "state": `{"x":[true,null]}`, "ackedReqId": `"r-9"`},
		required: []string{"doc", "epoch", "rev", "state"},
		want:     map[string]string{"doc": "string", "epoch": "string", "rev": "number", "ackedReqId": "string"},
		lenient:  true,
	},
	{
		name: "SYNC.DELTAS",
		new:  func() payload { return new(protocol.SyncDeltas) },
		fields: map[string]string{"doc": `"a"`, "epoch": `"` + ulid + `"`, "fromRev": `3`, "toRev": `8`, "ackedReqId": `"r"`,
			"operations": `[{"rev":4,"type":"patch","payload":[{"op":"remove","path":"/a"}],"clientId":"` + ulid + `","clientReqId":"r","ts":17},{"rev":5,"type":"merge","payload":{"b":null},"ts":18},{"rev":8,"type":"merge","payload":{"c":{"d":1}},"ts":19,"firstRev":6}]`},
		required: []string{"doc", "epoch", "fromRev", "toRev", "operations"},
		want:     map[string]string{"doc": "string", "epoch": "string", "fromRev": "number", "toRev": "number", "operations": "array", "ackedReqId": "string"},
		lenient:  true,
	},
	{
		name:     "REVISION_GAP",
		new:      func() payload { return new(protocol.RevisionGap) },
		fields:   map[string]string{"doc": `"a"`, "expectedRev": `1`, "serverRev": `1051`, "bufferFirstRev": `28`, "resumeFrom": `1051`, "reason": `"retention"`},
		required: []string{"doc", "expectedRev", "serverRev", "bufferFirstRev", "resumeFrom", "reason"},
		want:     map[string]string{"doc": "string", "expectedRev": "number", "serverRev": "number", "bufferFirstRev": "number", "resumeFrom": "number", "reason": "string"},
		lenient:  true,
	},
	{
		name:     "PRESENCE",
		new:      func() payload { return new(protocol.Presence) },
		fields:   map[string]string{"doc": `"a"`, "clients": `[{"clientId":"x","state":{"n":1}}]`, "left": `["y","z"]`},
		required: []string{"doc", "clients"},
		want:     map[string]string{"doc": "string", "clients": "array", "left": "array"},
		lenient:  true,
	},
	{
		name:     "MESSAGE",
		new:      func() payload { return new(protocol.Message) },
		fields:   map[string]string{"topic": `"t"`, "data": `{"x":1}`, "from": `"` + ulid + `"`},
		required: []string{"data", "from"},
		want:     map[string]string{"doc": "string", "topic": "string", "from": "string"},
		lenient:  true,
	},
	{
		name:     "ERROR",
		new:      func() payload { return new(protocol.ErrorPayload) },
		fields:   map[string]string{"code": `"ABORTED"`, "message": `"conflict"`, "details": `{"doc":"a","clientReqId":"r","serverRev":4}`, "retryable": `true`, "retryAfterMs": `50`},
		required: []string{"code"},
		want:     map[string]string{"code": "string", "message": "string", "details": "object", "retryable": "boolean", "retryAfterMs": "number"},
		lenient:  true,
		always:   []string{"message"},
	},
}

// object builds a JSON object from fields, in sorted key order.
func object(fields map[string]string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + k + `":` + fields[k])
	}
	b.WriteByte('}')
	return b.String()
}

func without(m map[string]string, drop string) map[string]string {
	c := map[string]string{}
	for k, v := range m {
		if k != drop {
			c[k] = v
		}
	}
	return c
}

func with(m map[string]string, k, v string) map[string]string {
	c := without(m, k)
	c[k] = v
	return c
}

func wantFieldError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want %q", want)
		return
	}
	var e *protocol.Error
	if !errors.As(err, &e) || e.Code != protocol.CodeInvalidArgument {
		t.Errorf("error %v is not an INVALID_ARGUMENT *protocol.Error", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	for _, sp := range specs {
		t.Run(sp.name, func(t *testing.T) {
			in := object(sp.fields)
			v := sp.new()
			if err := v.UnmarshalPayload([]byte(in)); err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			enc := v.AppendJSON(nil)
			if !json.Valid(enc) {
				t.Fatalf("invalid JSON: %s", enc)
			}
			// Same keys and values as the input (key order aside).
			var a, b any
			json.Unmarshal([]byte(in), &a)
			json.Unmarshal(enc, &b)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("re-encoded differs:\n in  %s\n out %s", in, enc)
			}
			w := sp.new()
			if err := w.UnmarshalPayload(enc); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v, w) {
				t.Fatalf("decode(encode(v)) = %+v, want %+v", w, v)
			}
			// encoding/json agrees through MarshalJSON/UnmarshalJSON.
			viaStd, err := json.Marshal(v)
			if err != nil || string(viaStd) != string(enc) {
				t.Fatalf("json.Marshal = %s, %v", viaStd, err)
			}
		})
	}
}

// TestPayloadStrictness: every required field missing or null, every typed
// field of the wrong type, and an unknown field, for every payload type.
func TestPayloadStrictness(t *testing.T) {
	for _, sp := range specs {
		t.Run(sp.name, func(t *testing.T) {
			decode := func(in string) error { return sp.new().UnmarshalPayload([]byte(in)) }
			for _, f := range sp.required {
				wantFieldError(t, decode(object(without(sp.fields, f))), "payload."+f+": required")
				wantFieldError(t, decode(object(with(sp.fields, f, "null"))), "payload."+f+": required, got null")
			}
			for f, want := range sp.want {
				wrong := `true`
				if want == "boolean" {
					wrong = `"yes"`
				}
				got := "boolean"
				if want == "boolean" {
					got = "string"
				}
				wantFieldError(t, decode(object(with(sp.fields, f, wrong))), "payload."+f+": want "+want+", got "+got)
			}
			unknown := decode(object(with(sp.fields, "zzz", `{"a":1}`)))
			if sp.lenient {
				if unknown != nil {
					t.Errorf("lenient decoder refused an unknown field: %v", unknown)
				}
			} else {
				wantFieldError(t, unknown, "payload.zzz: unknown field")
			}
			for f := range sp.fields {
				dup := strings.TrimSuffix(object(sp.fields), "}") + `,"` + f + `":` + sp.fields[f] + `}`
				wantFieldError(t, decode(dup), "payload."+f+": duplicate field")
			}
			wantFieldError(t, decode(`[]`), "payload: want object, got array")
			wantFieldError(t, decode(`{`), "invalid JSON")
			wantFieldError(t, decode(``), "invalid JSON")
			wantFieldError(t, decode(object(sp.fields)+`{}`), "invalid JSON")
		})
	}
}

// TestOptionalNullIsAbsent: an optional field sent as null decodes as if
// absent, and the encoding leaves it out.
func TestOptionalNullIsAbsent(t *testing.T) {
	for _, sp := range specs {
		for f := range sp.fields {
			if contains(sp.required, f) || contains(sp.always, f) {
				continue
			}
			in := object(with(sp.fields, f, "null"))
			v := sp.new()
			if err := v.UnmarshalPayload([]byte(in)); err != nil {
				t.Errorf("%s: %s: %v", sp.name, in, err)
				continue
			}
			w := sp.new()
			w.UnmarshalPayload([]byte(object(without(sp.fields, f))))
			if !reflect.DeepEqual(v, w) {
				t.Errorf("%s: %s null decodes to %+v, absent to %+v", sp.name, f, v, w)
			}
			if enc := v.AppendJSON(nil); strings.Contains(string(enc), `"`+f+`"`) {
				t.Errorf("%s: encoding keeps %s: %s", sp.name, f, enc)
			}
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestZeroValuesEncodeWithoutNull: the zero value of every type encodes to
// valid JSON with no null anywhere (lists as [], states as {}), except the
// required free-JSON fields documented to default to null.
func TestZeroValuesEncodeWithoutNull(t *testing.T) {
	allowNull := map[string]bool{"UPDATE": true, "PUBLISH": true, "MESSAGE": true}
	for _, sp := range specs {
		enc := sp.new().AppendJSON(nil)
		if !json.Valid(enc) {
			t.Errorf("%s: invalid JSON %s", sp.name, enc)
		}
		if strings.Contains(string(enc), "null") && !allowNull[sp.name] {
			t.Errorf("%s: zero value encodes null: %s", sp.name, enc)
		}
	}
	got := string(protocol.SyncDeltas{Doc: "a"}.AppendJSON(nil))
	if !strings.Contains(got, `"operations":[]`) || strings.Contains(got, "ackedReqId") {
		t.Errorf("SyncDeltas zero: %s", got)
	}
	got = string(protocol.Presence{Doc: "a"}.AppendJSON(nil))
	if got != `{"doc":"a","clients":[]}` {
		t.Errorf("Presence zero: %s", got)
	}
	got = string(protocol.Hello{ClientID: "c", Protocol: protocol.ProtocolVersion}.AppendJSON(nil))
	if got != `{"clientId":"c","protocol":"syncd/1","heartbeatMs":0,"limits":{}}` {
		t.Errorf("Hello zero: %s", got)
	}
}

func TestPayloadKindErrors(t *testing.T) {
	wantFieldError(t, new(protocol.Update).UnmarshalPayload([]byte(`{"doc":"a","patch":"x","clientReqId":"r"}`)), "payload.patch: want array or object, got string")
	wantFieldError(t, new(protocol.Join).UnmarshalPayload([]byte(`{"doc":"a","rev":-1}`)), "payload.rev: want a non-negative integer")
	wantFieldError(t, new(protocol.Join).UnmarshalPayload([]byte(`{"doc":"a","rev":18446744073709551616}`)), "payload.rev: want a non-negative integer")
	wantFieldError(t, new(protocol.Join).UnmarshalPayload([]byte(`{"doc":"a","rev":1e3}`)), "payload.rev: want a non-negative integer")
	wantFieldError(t, new(protocol.Join).UnmarshalPayload([]byte(`{"DOC":"a"}`)), "payload.DOC: unknown field")
	wantFieldError(t, new(protocol.SyncDeltas).UnmarshalPayload([]byte(`{"doc":"a","epoch":"e","fromRev":1,"toRev":2,"operations":[{"rev":2,"type":"patch","payload":[],"ts":1},{"rev":"2"}]}`)), "payload.operations[1].rev: want number, got string")
	wantFieldError(t, new(protocol.SyncDeltas).UnmarshalPayload([]byte(`{"doc":"a","epoch":"e","fromRev":1,"toRev":2,"operations":[{"rev":2,"payload":[],"ts":1}]}`)), "payload.operations[0].type: required")
	// A combined operation (catch-up compaction) covers firstRev … rev.
	wantFieldError(t, new(protocol.SyncDeltas).UnmarshalPayload([]byte(`{"doc":"a","epoch":"e","fromRev":1,"toRev":3,"operations":[{"rev":3,"firstRev":4,"type":"merge","payload":{},"ts":1}]}`)), "payload.operations[0].firstRev: greater than rev")
	wantFieldError(t, new(protocol.SyncDeltas).UnmarshalPayload([]byte(`{"doc":"a","epoch":"e","fromRev":1,"toRev":3,"operations":[{"rev":3,"firstRev":0,"type":"merge","payload":{},"ts":1}]}`)), "payload.operations[0].firstRev: want a revision ≥ 1")
	wantFieldError(t, new(protocol.SyncDeltas).UnmarshalPayload([]byte(`{"doc":"a","epoch":"e","fromRev":1,"toRev":3,"operations":[{"rev":3,"firstRev":"2","type":"merge","payload":{},"ts":1}]}`)), "payload.operations[0].firstRev: want number, got string")
	wantFieldError(t, new(protocol.Presence).UnmarshalPayload([]byte(`{"doc":"a","clients":[],"left":["x",3]}`)), "payload.left[1]: want string, got number")
	wantFieldError(t, new(protocol.Hello).UnmarshalPayload([]byte(`{"clientId":"c","protocol":"p","heartbeatMs":1,"limits":{"a":"b"}}`)), "payload.limits.a: want number, got string")
	rev := revision.Rev(18446744073709551615)
	var j protocol.Join
	if err := j.UnmarshalPayload([]byte(`{"doc":"a","rev":18446744073709551615}`)); err != nil || *j.Rev != rev {
		t.Errorf("max rev: %v %v", j.Rev, err)
	}
}

func TestValidate(t *testing.T) {
	rev := revision.Rev(1)
	cases := []struct {
		v    protocol.Validator
		want string // "" for valid
	}{
		{&protocol.Join{Doc: "todo:list/1_a.b-c"}, ""},
		{&protocol.Join{Doc: ""}, "payload.doc: must be 1–128"},
		{&protocol.Join{Doc: strings.Repeat("a", 128)}, ""},
		{&protocol.Join{Doc: strings.Repeat("a", 129)}, "payload.doc"},
		{&protocol.Join{Doc: "a b"}, "payload.doc"},
		{&protocol.Join{Doc: "é"}, "payload.doc"},
		{&protocol.Join{Doc: "a", Rev: &rev, Epoch: ulid}, ""},
		{&protocol.Join{Doc: "a", Epoch: "nope"}, "payload.epoch: must be a ULID"},
		{&protocol.Update{Doc: "a", Patch: json.RawMessage(`{}`), ClientReqID: "r"}, ""},
		{&protocol.Update{Doc: "a", Patch: json.RawMessage(`{}`), ClientReqID: ""}, "payload.clientReqId"},
		{&protocol.Update{Doc: "a", Patch: json.RawMessage(`{}`), ClientReqID: strings.Repeat("r", 65)}, "payload.clientReqId"},
		{&protocol.Update{Doc: "a", Patch: json.RawMessage(`{}`), ClientReqID: "has space"}, "payload.clientReqId"},
		{&protocol.Update{Doc: "a", Patch: nil, ClientReqID: "r"}, "payload.patch"},
		{&protocol.Leave{Doc: "$"}, "payload.doc"},
		{&protocol.PresenceSet{Doc: "a", State: json.RawMessage(`1`)}, ""},
		{&protocol.PresenceSet{Doc: "a"}, "payload.state: required"},
		{&protocol.Publish{Doc: "a", Data: json.RawMessage(`1`)}, ""},
		{&protocol.Publish{Topic: "t", Data: json.RawMessage(`1`)}, ""},
		{&protocol.Publish{Data: json.RawMessage(`1`)}, "payload.doc: required (or topic)"},
		{&protocol.Publish{Doc: "a", Topic: "t", Data: json.RawMessage(`1`)}, "not both"},
		{&protocol.Publish{Topic: "bad topic", Data: json.RawMessage(`1`)}, "payload.topic"},
		{&protocol.Subscribe{Topic: "chat"}, ""},
		{&protocol.Subscribe{Topic: ""}, "payload.topic"},
		{&protocol.Unsubscribe{Topic: "x/y"}, ""},
		{&protocol.AuthRefresh{Token: "t"}, ""},
		{&protocol.AuthRefresh{}, "payload.token: required"},
	}
	for _, c := range cases {
		err := c.v.Validate()
		if c.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.v, err)
			}
			continue
		}
		wantFieldError(t, err, c.want)
	}
}

func TestReservedTypes(t *testing.T) {
	for typ, want := range map[string]bool{"__heartbeat": true, "__x": true, "$ws:abort": true, "$": true, "_x": false, "JOIN": false, "": false} {
		if got := protocol.IsReservedType(typ); got != want {
			t.Errorf("IsReservedType(%q) = %v", typ, got)
		}
	}
}

func TestParseClientID(t *testing.T) {
	got, err := protocol.ParseClientID(strings.ToLower(ulid))
	if err != nil || got != ulid {
		t.Fatalf("ParseClientID = %q, %v", got, err)
	}
	for _, bad := range []string{"", "x", ulid + "0", "81HZY0J5Q8X6T9V3N2M4K7P1RA", "01HZY0J5Q8X6T9V3N2M4K7P1RI"} {
		if _, err := protocol.ParseClientID(bad); protocol.CodeOf(err) != protocol.CodeInvalidArgument {
			t.Errorf("ParseClientID(%q) = %v", bad, err)
		}
	}
}

func TestUpdateErrorDetails(t *testing.T) {
	e := protocol.NewError(protocol.CodeAborted, "conflict").WithDetails(protocol.UpdateErrorDetails{Doc: "a", ClientReqID: "r", ServerRev: 4})
	b, _ := protocol.Encode(protocol.TypeError, protocol.Meta{Timestamp: 1}, e)
	want := `{"type":"ERROR","meta":{"timestamp":1},"payload":{"code":"ABORTED","message":"conflict","details":{"doc":"a","clientReqId":"r","serverRev":4},"retryable":true,"retryAfterMs":50}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
