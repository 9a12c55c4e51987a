package server_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// The bad-input catalogue (guarantee 7): for each kind of bad input, the
// documented code (or close), and afterwards the server is still up, the
// document is unchanged, and a second client noticed nothing: it received
// nothing, and it can still edit and receive.

const badDoc = "bad/doc"

// badInput is one scenario: a document with content, a bystander joined to
// it, and an attacker.
type badInput struct {
	t         *testing.T
	ev        *env
	before    *syncd.DocState
	bystander *client
	attacker  *client
	dial      func() *client // how a well-behaved client connects
	lastID    string         // the request id of the last refuseUpdate
}

type badOpts struct {
	eo         syncd.Options
	so         server.Options
	joined     bool               // the attacker joins badDoc first
	dial       func(*env) *client // default ev.dial("")
	noAttacker bool
}

func newBadInput(t *testing.T, o badOpts) *badInput {
	t.Helper()
	ev := newEnv(t, o.eo, o.so)
	dial := func() *client { return ev.dial("") }
	if o.dial != nil {
		dial = func() *client { return o.dial(ev) }
	}
	ev.commit(badDoc, map[string]any{"title": "safe", "items": []any{"a", "b"}})
	bi := &badInput{t: t, ev: ev, dial: dial}
	bi.bystander = dial()
	bi.bystander.join(badDoc)
	if !o.noAttacker {
		bi.attacker = dial()
		if o.joined {
			bi.attacker.join(badDoc)
		}
	}
	bi.before = ev.snapshot(badDoc)
	return bi
}

// check proves the aftermath: the server is up (health, and a new client
// joins), the document is unchanged, the attacker's connection still works
// (unless it was closed), and the bystander received nothing and can still
// edit and receive.
func (bi *badInput) check() {
	t := bi.t
	t.Helper()
	ev := bi.ev
	if code, _, _ := ev.do("GET", "/healthz", "", nil); code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}
	ev.sameSnapshot(badDoc, bi.before)
	if bi.attacker != nil {
		bi.attacker.alive()
	}
	bi.bystander.quiet()
	fresh := bi.dial()
	if s := fresh.join(badDoc); s.Rev != bi.before.Rev {
		t.Fatalf("a new client sees rev %d, want %d", s.Rev, bi.before.Rev)
	}
	op := bi.bystander.edit(badDoc, map[string]any{"bystander": "ok"})
	if op.Rev != bi.before.Rev+1 {
		t.Fatalf("bystander's edit at %d, want %d", op.Rev, bi.before.Rev+1)
	}
	fresh.ackFrom(bi.bystander.id, op.ClientReqID)
}

// closed records that the attacker's connection is gone.
func (bi *badInput) closed() { bi.attacker = nil }

// refuse sends raw and expects ERROR with code, whose message mentions
// want (if set); it returns the error.
func (bi *badInput) refuse(raw string, code protocol.Code, want string) protocol.ErrorPayload {
	bi.t.Helper()
	bi.attacker.sendRaw(raw)
	p := bi.attacker.expectError(code)
	if want != "" && !strings.Contains(p.Message, want) {
		bi.t.Fatalf("error for %.80s: message %q does not mention %q", raw, p.Message, want)
	}
	if p.Message == "" {
		bi.t.Fatalf("error without a message for %.80s", raw)
	}
	return p
}

// refuseUpdate sends an UPDATE of badDoc and expects its refusal with code
// and the details {doc, clientReqId, serverRev}.
func (bi *badInput) refuseUpdate(patch any, code protocol.Code, extra ...map[string]any) protocol.ErrorPayload {
	bi.t.Helper()
	id := bi.attacker.nextReq()
	bi.lastID = id
	bi.attacker.update(badDoc, patch, id, extra...)
	p := bi.attacker.expectError(code)
	if d := updateDetails(bi.t, p, badDoc, id); d.ServerRev != bi.before.Rev {
		bi.t.Fatalf("serverRev %d, want %d", d.ServerRev, bi.before.Rev)
	}
	return p
}

func TestBadInputInvalidJSON(t *testing.T) {
	bi := newBadInput(t, badOpts{joined: true})
	for _, raw := range []string{
		`{"type":"UPDATE","payload":{"doc":"bad/doc"`,
		`{"type":"UPDATE",}`,
		`{"type":"UPDATE"} trailing`,
		`{type:"UPDATE"}`,
		`{"type":"UPDATE","payload":{"doc":"bad/doc","patch":{"title":"x"},"clientReqId":"x",}}`,
		``,
	} {
		bi.refuse(raw, protocol.CodeInvalidArgument, "")
	}
	bi.check()
}

func TestBadInputNonObject(t *testing.T) {
	bi := newBadInput(t, badOpts{joined: true})
	for _, raw := range []string{`[{"type":"JOIN","payload":{"doc":"bad/doc"}}]`, `"JOIN"`, `42`, `null`, `true`} {
		bi.refuse(raw, protocol.CodeInvalidArgument, "object")
	}
	bi.check()
}

func TestBadInputMissingType(t *testing.T) {
	bi := newBadInput(t, badOpts{joined: true})
	bi.refuse(`{"payload":{"doc":"bad/doc"}}`, protocol.CodeInvalidArgument, "type")
	bi.refuse(`{"type":"","payload":{}}`, protocol.CodeInvalidArgument, "type")
	bi.refuse(`{"type":5}`, protocol.CodeInvalidArgument, "type")
	bi.refuse(`{"type":null}`, protocol.CodeInvalidArgument, "type")
	bi.check()
}

func TestBadInputUnknownType(t *testing.T) {
	bi := newBadInput(t, badOpts{joined: true})
	bi.refuse(`{"type":"DELETE_EVERYTHING","payload":{"doc":"bad/doc"}}`, protocol.CodeUnimplemented, "DELETE_EVERYTHING")
	bi.refuse(`{"type":"update","payload":{"doc":"bad/doc","patch":{"x":1},"clientReqId":"r"}}`, protocol.CodeUnimplemented, "")
	bi.check()
}

func TestBadInputReservedType(t *testing.T) {
	bi := newBadInput(t, badOpts{joined: true})
	for _, typ := range []string{"__evil", "$ws:rpc-progress", protocol.TypeHeartbeatAck, "$UPDATE"} {
		bi.refuse(`{"type":"`+typ+`","payload":{}}`, protocol.CodeInvalidArgument, "reserved")
	}
	bi.check()
}

func TestBadInputWrongFieldTypes(t *testing.T) {
	bi := newBadInput(t, badOpts{joined: true})
	for _, c := range []struct{ raw, field string }{
		{`{"type":"JOIN","payload":{"doc":7}}`, "payload.doc"},
		{`{"type":"JOIN","payload":{"doc":"bad/doc","rev":"3"}}`, "payload.rev"},
		{`{"type":"JOIN","payload":{"doc":"bad/doc","rev":-1}}`, "payload.rev"},
		{`{"type":"JOIN","payload":{"doc":"bad/doc","rev":1.5}}`, "payload.rev"},
		{`{"type":"UPDATE","payload":{"doc":["bad/doc"],"patch":{"x":1},"clientReqId":"r-1"}}`, "payload.doc"},
		{`{"type":"UPDATE","payload":{"doc":"bad/doc","patch":{"x":1},"clientReqId":17}}`, "payload.clientReqId"},
		{`{"type":"LEAVE","payload":"bad/doc"}`, "payload"},
		{`{"type":"HEARTBEAT","meta":{"timestamp":"now"}}`, "meta.timestamp"},
		{`{"type":"HEARTBEAT","meta":[]}`, "meta"},
		{`{"type":"PRESENCE.SET","payload":{"doc":"bad/doc"}}`, "payload.state"},
		{`{"type":"UPDATE","payload":{"doc":"bad/doc","clientReqId":"r-2"}}`, "payload.patch"},
	} {
		bi.refuse(c.raw, protocol.CodeInvalidArgument, c.field)
	}
	// An UPDATE whose doc and clientReqId are readable is refused with
	// its details, whatever else is wrong, so the client can roll back.
	for _, c := range []struct {
		patch any
		extra map[string]any
		field string
	}{
		{"title", nil, "payload.patch"},
		{42, nil, "payload.patch"},
		{map[string]any{"x": 1}, map[string]any{"baseRev": "1"}, "payload.baseRev"},
		{map[string]any{"x": 1}, map[string]any{"epoch": 12}, "payload.epoch"},
		{map[string]any{"x": 1}, map[string]any{"epoch": "not-a-ulid"}, "payload.epoch"},
	} {
		p := bi.refuseUpdate(c.patch, protocol.CodeInvalidArgument, c.extra)
		if !strings.Contains(p.Message, c.field) || !strings.Contains(string(p.Details), `"field":"`+c.field+`"`) {
			t.Fatalf("message %q, details %s: do not name %s", p.Message, p.Details, c.field)
		}
	}
	// A message that failed decoding decided nothing: its id, sent again
	// as a proper UPDATE, is applied.
	bi.attacker.update(badDoc, map[string]any{"fixed": true}, bi.lastID)
	bi.attacker.ack(bi.lastID)
	bi.bystander.ackFrom(bi.attacker.id, bi.lastID)
	bi.before = bi.ev.snapshot(badDoc)
	bi.check()
}

func TestBadInputUnknownPayloadFields(t *testing.T) {
	bi := newBadInput(t, badOpts{joined: true})
	bi.refuse(`{"type":"JOIN","payload":{"doc":"bad/doc","admin":true}}`, protocol.CodeInvalidArgument, "payload.admin")
	bi.refuse(`{"type":"HEARTBEAT","payload":{"x":1}}`, protocol.CodeInvalidArgument, "payload.x")
	bi.refuse(`{"type":"HEARTBEAT","payload":{},"extra":1}`, protocol.CodeInvalidArgument, "extra")
	bi.refuse(`{"type":"JOIN","payload":{"doc":"bad/doc","doc":"bad/other"}}`, protocol.CodeInvalidArgument, "payload.doc")
	p := bi.refuseUpdate(map[string]any{"title": "pwned"}, protocol.CodeInvalidArgument, map[string]any{"force": true})
	if !strings.Contains(p.Message, "payload.force") {
		t.Fatalf("message %q", p.Message)
	}
	bi.check()
}

func TestBadInputInvalidPatch(t *testing.T) {
	bi := newBadInput(t, badOpts{joined: true})
	for _, patch := range []any{
		[]any{map[string]any{"op": "frobnicate", "path": "/title", "value": 1}},
		[]any{map[string]any{"op": "add", "value": 1}},
		[]any{map[string]any{"op": "add", "path": "title", "value": 1}},
		[]any{map[string]any{"op": "add", "path": "/title"}},
		[]any{map[string]any{"op": "move", "path": "/x"}},
		[]any{1, 2},
		[]any{map[string]any{"op": "add", "path": "/x", "value": 1}, "oops"},
	} {
		bi.refuseUpdate(patch, protocol.CodeInvalidArgument)
	}
	// A malformed patch is a decision: its id is never applied later.
	bi.attacker.update(badDoc, map[string]any{"title": "second try"}, bi.lastID)
	updateDetails(t, bi.attacker.expectError(protocol.CodeAlreadyExists), badDoc, bi.lastID)
	bi.check()
}

func TestBadInputPatchOnMissingPath(t *testing.T) {
	bi := newBadInput(t, badOpts{joined: true})
	for _, patch := range []any{
		[]any{map[string]any{"op": "replace", "path": "/nope", "value": 1}},
		[]any{map[string]any{"op": "remove", "path": "/nope/deeper"}},
		[]any{map[string]any{"op": "add", "path": "/nope/deeper", "value": 1}},
		[]any{map[string]any{"op": "move", "from": "/nope", "path": "/x"}},
		[]any{map[string]any{"op": "replace", "path": "/items/7", "value": 1}},
		// The first operation would apply; the patch is atomic.
		[]any{map[string]any{"op": "replace", "path": "/title", "value": "changed"}, map[string]any{"op": "remove", "path": "/nope"}},
		[]any{map[string]any{"op": "test", "path": "/title", "value": "unsafe"}},
	} {
		bi.refuseUpdate(patch, protocol.CodeFailedPrecondition)
	}
	bi.check()
}

func TestBadInputRootNonObject(t *testing.T) {
	bi := newBadInput(t, badOpts{joined: true})
	for _, v := range []any{[]any{1}, "a string", 42, nil, true} {
		bi.refuseUpdate([]any{map[string]any{"op": "replace", "path": "", "value": v}}, protocol.CodeInvalidArgument)
	}
	bi.refuseUpdate([]any{map[string]any{"op": "remove", "path": ""}}, protocol.CodeInvalidArgument)
	bi.check()
}

func TestBadInputDocumentTooLarge(t *testing.T) {
	bi := newBadInput(t, badOpts{joined: true, eo: syncd.Options{MaxDocSize: 2048}})
	if got := bi.attacker.hello.Limits[protocol.LimitMaxDocumentBytes]; got != 2048 {
		t.Fatalf("HELLO maxDocumentBytes %d", got)
	}
	bi.refuseUpdate(map[string]any{"blob": strings.Repeat("x", 4096)}, protocol.CodeInvalidArgument)
	bi.refuseUpdate([]any{map[string]any{"op": "add", "path": "/items/-", "value": strings.Repeat("y", 2100)}}, protocol.CodeInvalidArgument)
	bi.check()
}

func TestBadInputOversizedFrame(t *testing.T) {
	bi := newBadInput(t, badOpts{joined: true, so: server.Options{Limits: server.Limits{MaxMessageBytes: 4096}}})
	if got := bi.attacker.hello.Limits[protocol.LimitMaxMessageBytes]; got != 4096 {
		t.Fatalf("HELLO maxMessageBytes %d", got)
	}
	big := fmt.Sprintf(`{"type":"UPDATE","payload":{"doc":%q,"patch":{"title":%q},"clientReqId":"big-1"}}`, badDoc, strings.Repeat("x", 8192))
	bi.attacker.ws.WriteMessage(websocket.TextMessage, []byte(big)) // the server may cut it short
	if code := bi.attacker.closeCode(); code != protocol.CloseMessageTooBig {
		t.Fatalf("close %d, want 1009", code)
	}
	// The same client comes back (the watermark did not move: the edit was
	// never read).
	back := bi.ev.dialID(bi.attacker.id)
	if s := back.join(badDoc); s.AckedReqID != "" {
		t.Fatalf("acked %q after an unread message", s.AckedReqID)
	}
	bi.closed()
	bi.check()
}

func TestBadInputBinaryGarbage(t *testing.T) {
	bi := newBadInput(t, badOpts{joined: true})
	garbage := make([]byte, 300)
	rand.Read(garbage)
	for i := 0; i < 3; i++ {
		if err := bi.attacker.ws.WriteMessage(websocket.BinaryMessage, garbage); err != nil {
			t.Fatal(err)
		}
		bi.attacker.expectError(protocol.CodeInvalidArgument)
	}
	// A binary frame that holds a valid message is refused all the same.
	bi.attacker.ws.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"UPDATE","payload":{"doc":"bad/doc","patch":{"title":"bin"},"clientReqId":"b-1"}}`))
	bi.attacker.expectError(protocol.CodeInvalidArgument)
	// Garbage in a text frame.
	bi.refuse(string(garbage), protocol.CodeInvalidArgument, "")
	bi.check()
}

func TestBadInputInvalidUTF8(t *testing.T) {
	// A text frame must be UTF-8; invalid bytes inside a JSON string must
	// not reach the document, or every other client would receive them in
	// a text frame (which a browser answers by closing, 1007).
	bi := newBadInput(t, badOpts{joined: true})
	bad := "{\"type\":\"UPDATE\",\"payload\":{\"doc\":\"bad/doc\",\"patch\":{\"title\":\"\xff\xfe\"},\"clientReqId\":\"u-1\"}}"
	bi.attacker.sendRaw(bad)
	m := bi.attacker.read()
	switch m.Type {
	case protocol.TypeError:
		if p := errorPayload(t, m); p.Code != protocol.CodeInvalidArgument {
			t.Fatalf("error %s", m)
		}
	default:
		t.Fatalf("invalid UTF-8 answered with %s", m)
	}
	bi.check()
}

func TestBadInputFlood(t *testing.T) {
	// The flood guard: past the rate, RESOURCE_EXHAUSTED with a retry
	// hint, and the message is not handled; after the hint, all is well.
	bi := newBadInput(t, badOpts{joined: true, so: server.Options{Limits: server.Limits{MessagesPerSecond: 20, Burst: 5}}})
	for i := 0; i < 15; i++ {
		bi.attacker.send(protocol.TypeHeartbeat, map[string]any{})
	}
	// The flood also carries an edit, which must not be handled.
	bi.attacker.update(badDoc, map[string]any{"title": "flooded"}, "flood-1")
	time.Sleep(400 * time.Millisecond) // the bucket (5 at 20/s) refills
	var refused int
	for _, m := range bi.attacker.drain() {
		p := errorPayload(t, m)
		if m.Type != protocol.TypeError || p.Code != protocol.CodeResourceExhausted {
			t.Fatalf("flood answered with %s", m)
		}
		if p.Retryable == nil || !*p.Retryable || p.RetryAfterMs == nil || *p.RetryAfterMs <= 0 || *p.RetryAfterMs > 1000 {
			t.Fatalf("flood refusal without a fitting hint: %s", m)
		}
		refused++
	}
	// JOIN took one of the 5 tokens; the bucket refills at one per 50 ms.
	if refused < 8 || refused > 12 {
		t.Fatalf("%d of 16 messages refused", refused)
	}
	bi.check()
}

func TestBadInputSustainedFloodCloses(t *testing.T) {
	// A client that ignores the hints is cut off (4429, reconnect after a
	// backoff).
	bi := newBadInput(t, badOpts{joined: true, so: server.Options{Limits: server.Limits{MessagesPerSecond: 1, Burst: 1}}})
	var sb strings.Builder
	for i := 0; i < 150; i++ {
		sb.Reset()
		fmt.Fprintf(&sb, `{"type":"HEARTBEAT","meta":{"timestamp":%d}}`, time.Now().UnixMilli())
		if err := bi.attacker.ws.WriteMessage(websocket.TextMessage, []byte(sb.String())); err != nil {
			break // closed under our feet: fine
		}
	}
	if code := bi.attacker.closeCode(); code != protocol.CloseFlood || !protocol.ShouldReconnect(code) {
		t.Fatalf("close %d, want %d", code, protocol.CloseFlood)
	}
	bi.closed()
	// The bystander and fresh clients have rate limits of their own; the
	// check's HEARTBEAT, JOIN and UPDATE fit a burst of 1 at 1/s only with
	// a pause.
	time.Sleep(1100 * time.Millisecond)
	bi.ev.sameSnapshot(badDoc, bi.before)
	bi.bystander.alive()
	time.Sleep(1100 * time.Millisecond)
	op := bi.bystander.edit(badDoc, map[string]any{"bystander": "ok"})
	if op.Rev != bi.before.Rev+1 {
		t.Fatalf("bystander's edit at %d", op.Rev)
	}
}

func TestBadInputUpdateRateLimit(t *testing.T) {
	// UPDATEs have their own limit, enforced by the sync service so that
	// each refusal carries the edit's details; the refused id is decided.
	bi := newBadInput(t, badOpts{joined: true, so: server.Options{Limits: server.Limits{UpdatesPerSecond: 0.5, UpdateBurst: 2}}})
	a := bi.attacker
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, a.nextReq())
		a.update(badDoc, map[string]any{fmt.Sprintf("k%d", i): i}, ids[i])
	}
	applied, limited := map[string]bool{}, map[string]bool{}
	for i := 0; i < 50 && len(applied)+len(limited) < 5; i++ {
		m := a.read()
		switch m.Type {
		case protocol.TypeSyncDeltas:
			for _, op := range decodeAs[protocol.SyncDeltas](t, m).Operations {
				applied[op.ClientReqID] = true
			}
		case protocol.TypeError:
			p := errorPayload(t, m)
			if p.Code != protocol.CodeResourceExhausted || p.RetryAfterMs == nil || *p.RetryAfterMs <= 0 || p.Retryable == nil || !*p.Retryable {
				t.Fatalf("refusal %s", m)
			}
			var d protocol.UpdateErrorDetails
			d = updateDetails(t, p, badDoc, decodeAs[struct {
				Details protocol.UpdateErrorDetails `json:"details"`
			}](t, m).Details.ClientReqID)
			limited[d.ClientReqID] = true
		default:
			t.Fatalf("unexpected %s", m)
		}
	}
	if len(applied) != 2 || !applied[ids[0]] || !applied[ids[1]] || len(limited) != 3 {
		t.Fatalf("applied %v, limited %v", applied, limited)
	}
	// A limited id is decided: resending it is ALREADY_EXISTS (with the
	// bucket still empty, the answer is the same).
	a.update(badDoc, map[string]any{"k2": 2}, ids[2])
	updateDetails(t, a.expectError(protocol.CodeAlreadyExists), badDoc, ids[2])
	if w, err := bi.ev.store.Watermark(t.Context(), badDoc, a.id); err != nil || w.ReqID != ids[4] {
		t.Fatalf("watermark %v %v, want %s", w, err, ids[4])
	}
	// Only the two edits within the limit changed the document.
	st := bi.ev.state(badDoc)
	if st["k0"] == nil || st["k1"] == nil || st["k2"] != nil || st["k3"] != nil || st["k4"] != nil {
		t.Fatalf("state %v", st)
	}
	bi.before = bi.ev.snapshot(badDoc)
	bi.bystander.ackFrom(a.id, ids[1]) // ids[0] came first, perhaps in the same message
	bi.check()
}

func TestBadInputUpdateBeforeJoin(t *testing.T) {
	bi := newBadInput(t, badOpts{})
	p := bi.refuseUpdate(map[string]any{"title": "sneaky"}, protocol.CodeFailedPrecondition)
	if !strings.Contains(p.Message, "join") {
		t.Fatalf("message %q", p.Message)
	}
	// Nor after leaving.
	bi.attacker.join(badDoc)
	bi.attacker.send(protocol.TypeLeave, map[string]any{"doc": badDoc})
	bi.refuseUpdate(map[string]any{"title": "sneaky"}, protocol.CodeFailedPrecondition)
	// And nothing else needing a joined document.
	bi.attacker.send(protocol.TypePublish, map[string]any{"doc": badDoc, "data": "spam"})
	bi.attacker.expectError(protocol.CodeFailedPrecondition)
	bi.attacker.send(protocol.TypePublish, map[string]any{"topic": "never-subscribed", "data": "spam"})
	bi.attacker.expectError(protocol.CodeFailedPrecondition)
	bi.check()
}

func TestBadInputInvalidDocID(t *testing.T) {
	bi := newBadInput(t, badOpts{})
	long := strings.Repeat("d", protocol.MaxDocIDLength+1)
	for _, id := range []string{"", "has space", "semi;colon", "ünïcödé", "tab\t", "quote\"", "x?y", long} {
		for _, typ := range []string{protocol.TypeJoin, protocol.TypeLeave} {
			bi.attacker.send(typ, map[string]any{"doc": id})
			if p := bi.attacker.expectError(protocol.CodeInvalidArgument); !strings.Contains(p.Message, "payload.doc") {
				t.Fatalf("%s %q: %q", typ, id, p.Message)
			}
		}
		bi.attacker.update(id, map[string]any{"x": 1}, "id-1")
		if p := bi.attacker.expectError(protocol.CodeInvalidArgument); !strings.Contains(p.Message, "payload.doc") {
			t.Fatalf("UPDATE %q: %q", id, p.Message)
		}
		bi.attacker.send(protocol.TypeSubscribe, map[string]any{"topic": id})
		bi.attacker.expectError(protocol.CodeInvalidArgument)
	}
	// The longest valid id, and every allowed character, work.
	ok := strings.Repeat("d", protocol.MaxDocIDLength-len("aZ09:_./-")) + "aZ09:_./-"
	bi.attacker.join(ok)
	bi.attacker.edit(ok, map[string]any{"fine": true})
	docs, err := bi.ev.engine.List(t.Context(), "", 100)
	if err != nil || len(docs) != 2 {
		t.Fatalf("documents %+v %v: want %s and %s only", docs, err, badDoc, ok)
	}
	bi.check()
}

func TestBadInputTooManyDocuments(t *testing.T) {
	bi := newBadInput(t, badOpts{so: server.Options{Limits: server.Limits{MaxDocsPerConn: 3}}})
	for i := 0; i < 3; i++ {
		bi.attacker.join(fmt.Sprintf("bad/many-%d", i))
	}
	bi.attacker.send(protocol.TypeJoin, map[string]any{"doc": badDoc})
	bi.attacker.expectError(protocol.CodeResourceExhausted)
	bi.attacker.join("bad/many-0") // joining again is not one more
	bi.check()
}
