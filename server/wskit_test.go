package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// The strict schemas of every server message, as @ws-kit/client validates
// them: no unknown keys, no null for an optional field or an array, meta
// with timestamp (and correlationId on replies) and nothing else, except
// __heartbeat_ack whose meta is {ts}. Free JSON (a document's state, a
// patch, presence state, message data) is not checked. Every message every
// test reads goes through checkWire.

type schema struct {
	kind   string // string, int, bool, object, map, array, free, strict
	fields map[string]field
	elem   *schema
}

type field struct {
	s        *schema
	optional bool
}

var (
	sStr    = &schema{kind: "string"}
	sInt    = &schema{kind: "int"}
	sBool   = &schema{kind: "bool"}
	sFree   = &schema{kind: "free"}
	sStrict = &schema{kind: "strict"} // any JSON without null
)

func req(s *schema) field { return field{s: s} }
func opt(s *schema) field { return field{s: s, optional: true} }

func sObj(fields map[string]field) *schema { return &schema{kind: "object", fields: fields} }
func sArr(elem *schema) *schema            { return &schema{kind: "array", elem: elem} }
func sMap(elem *schema) *schema            { return &schema{kind: "map", elem: elem} }

var sEmpty = sObj(map[string]field{})

var sOperation = sObj(map[string]field{
	"rev": req(sInt), "type": req(sStr), "payload": req(sFree),
	"clientId": opt(sStr), "clientReqId": opt(sStr), "ts": req(sInt),
	"firstRev": opt(sInt), // a combined operation of a compacted catch-up
})

// sOutcome is one entry of a JOIN answer's outcomes: rev or code.
var sOutcome = sObj(map[string]field{"clientReqId": req(sStr), "rev": opt(sInt), "code": opt(sStr)})

var sError = sObj(map[string]field{
	"code": req(sStr), "message": req(sStr), "details": opt(sMap(sStrict)),
	"retryable": opt(sBool), "retryAfterMs": opt(sInt),
})

// serverSchemas are the payloads of every message type the server sends.
var serverSchemas = map[string]*schema{
	protocol.TypeHello: sObj(map[string]field{
		"clientId": req(sStr), "protocol": req(sStr), "heartbeatMs": req(sInt), "limits": req(sMap(sInt)), "authorId": opt(sStr),
	}),
	protocol.TypeSyncSnapshot: sObj(map[string]field{
		"doc": req(sStr), "epoch": req(sStr), "rev": req(sInt), "state": req(sFree), "ackedReqId": opt(sStr),
		"outcomes": opt(sArr(sOutcome)),
	}),
	protocol.TypeSyncDeltas: sObj(map[string]field{
		"doc": req(sStr), "epoch": req(sStr), "fromRev": req(sInt), "toRev": req(sInt),
		"operations": req(sArr(sOperation)), "ackedReqId": opt(sStr),
		"outcomes": opt(sArr(sOutcome)),
	}),
	protocol.TypeRevisionGap: sObj(map[string]field{
		"doc": req(sStr), "expectedRev": req(sInt), "serverRev": req(sInt), "bufferFirstRev": req(sInt),
		"resumeFrom": req(sInt), "reason": req(sStr),
	}),
	protocol.TypePresence: sObj(map[string]field{
		"doc":     req(sStr),
		"clients": req(sArr(sObj(map[string]field{"clientId": req(sStr), "state": req(sFree)}))),
		"left":    opt(sArr(sStr)),
	}),
	protocol.TypeMessage: sObj(map[string]field{
		"doc": opt(sStr), "topic": opt(sStr), "data": req(sFree), "from": req(sStr),
	}),
	protocol.TypeError:    sError,
	protocol.TypeRPCError: sError,
	"UPDATE.OK":           sObj(map[string]field{"doc": req(sStr), "rev": req(sInt), "clientReqId": req(sStr)}),
	"JOIN.OK":             nil, // JOIN's reply is its catch-up, never JOIN.OK
	"LEAVE.OK":            sEmpty,
	"PRESENCE.SET.OK":     sEmpty,
	"PUBLISH.OK":          sEmpty,
	"SUBSCRIBE.OK":        sEmpty,
	"UNSUBSCRIBE.OK":      sEmpty,
	"HEARTBEAT.OK":        sEmpty,
	// AUTH.REFRESH is answered whether or not it is an RPC.
	protocol.TypeAuthRefreshOK: sObj(map[string]field{"exp": opt(sInt)}),
}

func (s *schema) check(v any, path string) error {
	if s.kind == "free" {
		return nil
	}
	if v == nil {
		return fmt.Errorf("%s: null", path)
	}
	switch s.kind {
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: want string, got %T", path, v)
		}
	case "int":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: want number, got %T", path, v)
		}
		if _, err := n.Int64(); err != nil {
			return fmt.Errorf("%s: want an integer, got %s", path, n)
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want boolean, got %T", path, v)
		}
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want object, got %T", path, v)
		}
		for k, x := range m {
			f, known := s.fields[k]
			if !known {
				return fmt.Errorf("%s.%s: unknown key", path, k)
			}
			if err := f.s.check(x, path+"."+k); err != nil {
				return err
			}
		}
		for k, f := range s.fields {
			if _, ok := m[k]; !ok && !f.optional {
				return fmt.Errorf("%s.%s: missing", path, k)
			}
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want object, got %T", path, v)
		}
		for k, x := range m {
			if err := s.elem.check(x, path+"."+k); err != nil {
				return err
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want array, got %T", path, v)
		}
		for i, x := range a {
			if err := s.elem.check(x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case "strict":
		switch x := v.(type) {
		case map[string]any:
			for k, y := range x {
				if err := s.check(y, path+"."+k); err != nil {
					return err
				}
			}
		case []any:
			for i, y := range x {
				if err := s.check(y, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	default:
		return fmt.Errorf("%s: bad schema kind %q", path, s.kind)
	}
	return nil
}

// checkWire checks one server message against ws-kit's strict schemas.
func checkWire(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	if dec.More() {
		return fmt.Errorf("data after the message")
	}
	typ, _ := top["type"].(string)
	if typ == "" {
		return fmt.Errorf("type: missing or not a string")
	}
	for k := range top {
		if k != "type" && k != "meta" && k != "payload" {
			return fmt.Errorf("unknown top-level key %q", k)
		}
	}
	meta, ok := top["meta"].(map[string]any)
	if !ok {
		return fmt.Errorf("meta: missing or not an object")
	}
	if typ == protocol.TypeHeartbeatAck {
		if len(meta) != 1 {
			return fmt.Errorf("__heartbeat_ack meta must be exactly {ts}")
		}
		if _, hasPayload := top["payload"]; hasPayload {
			return fmt.Errorf("__heartbeat_ack has a payload")
		}
		return sInt.check(meta["ts"], "meta.ts")
	}
	for k, v := range meta {
		switch k {
		case "timestamp":
			if err := sInt.check(v, "meta.timestamp"); err != nil {
				return err
			}
		case "correlationId":
			if s, ok := v.(string); !ok || s == "" {
				return fmt.Errorf("meta.correlationId: want a non-empty string")
			}
		default:
			return fmt.Errorf("meta.%s: a key beyond timestamp and correlationId", k)
		}
	}
	if _, ok := meta["timestamp"]; !ok {
		return fmt.Errorf("meta.timestamp: missing")
	}
	sch, known := serverSchemas[typ]
	if !known || sch == nil {
		return fmt.Errorf("type %q: not a message the server sends", typ)
	}
	payload, has := top["payload"]
	if !has {
		if sch != sEmpty {
			return fmt.Errorf("payload: missing")
		}
		return nil
	}
	return sch.check(payload, "payload")
}

// TestWsKitClientCompatibility behaves as @ws-kit/client does against the
// real server with authentication on: the token in access_token or in a
// "bearer." subprotocol (never echoed), meta.timestamp on every request,
// RPCs answered by their response type with the echoed correlationId,
// RPC_ERROR's payload fields and types, __heartbeat, and reconnecting
// after the server closes the connection, whatever the code. Every
// message is checked by checkWire.
func TestWsKitClientCompatibility(t *testing.T) {
	const secret = "wskit-secret-of-at-least-32-bytes"
	ev := newEnv(t, syncd.Options{}, server.Options{JWTSecret: []byte(secret), Limits: server.Limits{MaxMessageBytes: 8 << 10}})
	// Topics need a topics claim (permissions.go).
	anyTopic := map[string]any{"topics": map[string][]string{"read": {"*"}, "write": {"*"}}}
	tokA := signClaims(t, secret, "ann", anyTopic)
	tokB := signClaims(t, secret, "bob", anyTopic)
	idA := newClientID()
	const doc = "wskit/board"
	ev.pad(doc, 4<<10) // so that catching up by deltas beats a snapshot

	// The token in access_token.
	a := ev.dialWith(dialOpts{clientID: idA, token: tokA})
	if a.id != idA {
		t.Fatalf("HELLO clientId %s, want %s", a.id, idA)
	}
	if a.hello.Protocol != protocol.ProtocolVersion || a.hello.HeartbeatMs <= 0 {
		t.Fatalf("HELLO %+v", a.hello)
	}
	for _, l := range []string{protocol.LimitMaxMessageBytes, protocol.LimitMaxDocumentBytes, protocol.LimitMaxDocsPerConnection, protocol.LimitMessagesPerSecond, protocol.LimitMaxQueueBytes} {
		if a.hello.Limits[l] <= 0 {
			t.Errorf("HELLO limits lack %s: %v", l, a.hello.Limits)
		}
	}

	// The token in a bearer. subprotocol, after the app's own: the app's is
	// selected, the bearer entry never echoed.
	b := ev.dialWith(dialOpts{protocols: []string{"app.v1", "bearer." + tokB}})
	if got := b.resp.Header.Values("Sec-Websocket-Protocol"); len(got) != 1 || got[0] != "app.v1" {
		t.Fatalf("subprotocol answered %q, want app.v1", got)
	}
	// Only the bearer entry: no subprotocol in the answer at all.
	only := ev.dialWith(dialOpts{protocols: []string{"bearer." + tokB}})
	if got := only.resp.Header.Get("Sec-Websocket-Protocol"); got != "" {
		t.Fatalf("bearer entry echoed: %q", got)
	}
	only.ws.Close()

	// JOIN as an RPC: the catch-up carries the correlationId; PRESENCE
	// (the full room) follows without one.
	ans := a.joinWith(map[string]any{"doc": doc, "presence": map[string]any{"name": "Ann"}}, "join-1")
	if ans.snap == nil || ans.cid != "join-1" {
		t.Fatalf("JOIN RPC answer %+v", ans)
	}
	m := a.next(protocol.TypePresence) // Ann's own presence, announced to the room
	if p := decodeAs[protocol.Presence](t, m); len(p.Clients) != 1 || p.Clients[0].ClientID != a.author {
		t.Fatalf("presence %s", m)
	}
	bAns := b.joinWith(map[string]any{"doc": doc}, "join-2")
	if bAns.cid != "join-2" || len(bAns.presence.Clients) != 1 || string(bAns.presence.Clients[0].State) != `{"name":"Ann"}` {
		t.Fatalf("B's JOIN answer %+v", bAns)
	}
	// A JOIN RPC answered by a gap: REVISION_GAP first, without the
	// correlationId; the snapshot, the terminal reply, carries it.
	bAns = b.joinWith(map[string]any{"doc": doc, "rev": 1}, "join-3")
	if bAns.gap == nil || bAns.snap == nil || bAns.cid != "join-3" {
		t.Fatalf("B's gap JOIN answer %+v", bAns)
	}

	// UPDATE as an RPC: UPDATE.OK {doc, rev, clientReqId} with the
	// correlationId, and the operation in SYNC.DELTAS.
	reqID := a.nextReq()
	a.sendMeta(protocol.TypeUpdate, "upd-1", updatePayload(doc, map[string]any{"title": "hello"}, reqID))
	var okMsg msg
	var sawDelta bool
	for i := 0; i < 4 && (okMsg.Type == "" || !sawDelta); i++ {
		m := a.read()
		switch m.Type {
		case "UPDATE.OK":
			okMsg = m
		case protocol.TypeSyncDeltas:
			d := decodeAs[protocol.SyncDeltas](t, m)
			if len(d.Operations) != 1 || d.Operations[0].ClientReqID != reqID || m.CorrelationID() != "" {
				t.Fatalf("deltas %s", m)
			}
			sawDelta = true
		default:
			t.Fatalf("unexpected %s", m)
		}
	}
	if okMsg.CorrelationID() != "upd-1" {
		t.Fatalf("UPDATE.OK %s", okMsg)
	}
	var uok server.UpdateOK
	json.Unmarshal(okMsg.Payload, &uok)
	if uok.Doc != doc || uok.Rev != 2 || uok.ClientReqID != reqID {
		t.Fatalf("UPDATE.OK payload %s", okMsg.Payload)
	}
	b.ackFrom(idA, reqID) // B sees it too

	// The simple RPCs: <TYPE>.OK {} with the correlationId.
	a.rpcOK(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": map[string]any{"name": "Ann", "cursor": 3}})
	if p := decodeAs[protocol.Presence](t, b.next(protocol.TypePresence)); len(p.Clients) != 1 || p.Clients[0].ClientID != a.author {
		t.Fatalf("presence change %+v", p)
	}
	a.rpcOK(protocol.TypeSubscribe, map[string]any{"topic": "chat"})
	b.rpcOK(protocol.TypeSubscribe, map[string]any{"topic": "chat"})
	a.rpcOK(protocol.TypePublish, map[string]any{"topic": "chat", "data": map[string]any{"text": "hi"}})
	mm := decodeAs[protocol.Message](t, b.next(protocol.TypeMessage))
	if mm.Topic != "chat" || mm.Doc != "" || mm.From != a.author || string(mm.Data) != `{"text":"hi"}` {
		t.Fatalf("MESSAGE %+v", mm)
	}
	a.rpcOK(protocol.TypePublish, map[string]any{"doc": doc, "data": []any{1, 2}})
	mm = decodeAs[protocol.Message](t, b.next(protocol.TypeMessage))
	if mm.Doc != doc || mm.Topic != "" || mm.From != a.author || string(mm.Data) != `[1,2]` {
		t.Fatalf("MESSAGE %+v", mm)
	}
	a.rpcOK(protocol.TypeUnsubscribe, map[string]any{"topic": "chat"})
	a.rpcOK(protocol.TypeHeartbeat, map[string]any{})
	a.quiet() // publishing is not echoed to the sender

	// RPC_ERROR: a non-retryable code (retryable false, no retryAfterMs),
	// with details naming the edit.
	r2 := a.nextReq()
	a.sendMeta(protocol.TypeUpdate, "upd-2", updatePayload("wskit/other", map[string]any{"x": 1}, r2))
	m = a.next(protocol.TypeRPCError)
	checkErrorPayloadTypes(t, m, "upd-2", protocol.CodeFailedPrecondition, false)
	updateDetails(t, errorPayload(t, m), "wskit/other", r2)
	// A retryable one: a conflict (ABORTED) carries retryAfterMs. B
	// changes the title; A, not having seen it, too.
	bop := b.edit(doc, []any{map[string]any{"op": "replace", "path": "/title", "value": "bob's"}})
	a.ackFrom(b.id, bop.ClientReqID)
	r3 := a.nextReq()
	a.sendMeta(protocol.TypeUpdate, "upd-3", updatePayload(doc, []any{map[string]any{"op": "replace", "path": "/title", "value": "x"}}, r3, map[string]any{"baseRev": uok.Rev}))
	m = a.expect(protocol.TypeRPCError)
	checkErrorPayloadTypes(t, m, "upd-3", protocol.CodeAborted, true)
	// An unknown type and a bad payload, as RPCs.
	a.sendMeta("NO.SUCH.TYPE", "x-1", map[string]any{})
	checkErrorPayloadTypes(t, a.next(protocol.TypeRPCError), "x-1", protocol.CodeUnimplemented, false)
	a.sendMeta(protocol.TypeJoin, "x-2", map[string]any{"doc": 7})
	checkErrorPayloadTypes(t, a.next(protocol.TypeRPCError), "x-2", protocol.CodeInvalidArgument, false)

	// ws-kit's control frame.
	a.sendRaw(`{"type":"__heartbeat"}`)
	if m := a.next(protocol.TypeHeartbeatAck); !strings.Contains(string(m.Meta), `"ts"`) {
		t.Fatalf("ack %s", m)
	}
	// LEAVE as an RPC; B learns that A left.
	a.rpcOK(protocol.TypeLeave, map[string]any{"doc": doc})
	if p := decodeAs[protocol.Presence](t, b.next(protocol.TypePresence)); len(p.Left) != 1 || p.Left[0] != a.author || p.Clients == nil {
		t.Fatalf("presence after LEAVE %+v", p)
	}

	// Reconnect after any close, and resume with deltas.
	pos, acked := ans.pos(), r3 // r3's refusal is A's last decided edit of doc
	resume := func(c *client, why string) *client {
		t.Helper()
		n := ev.dialWith(dialOpts{clientID: idA, token: tokA})
		n.seq = c.seq
		got := n.joinWith(map[string]any{"doc": doc, "rev": pos.Rev, "epoch": pos.Epoch}, "rejoin")
		if got.deltas == nil || got.cid != "rejoin" || got.deltas.FromRev != pos.Rev || got.acked() != acked {
			t.Fatalf("after %s: rejoin answer %+v (acked %q)", why, got, got.acked())
		}
		pos = got.pos()
		return n
	}
	// 1009: a message over the limit.
	a.sendRaw(`{"type":"HEARTBEAT","payload":{"pad":"` + strings.Repeat("x", 9<<10) + `"}}`)
	if code := a.closeCode(); code != protocol.CloseMessageTooBig || !protocol.ShouldReconnect(code) {
		t.Fatalf("oversized message: close %d", code)
	}
	a = resume(a, "1009")
	// 4409: another connection with the same clientId takes over; the
	// taken-over client stops, the new one carries on.
	closed := a.closeCodeAsync()
	a2 := resume(a, "4409")
	if code := receive(t, closed); code != protocol.CloseReplaced {
		t.Fatalf("replaced: close %d", code)
	}
	op := a2.edit(doc, map[string]any{"after": "replace"})
	b.ackFrom(idA, op.ClientReqID)
	acked = op.ClientReqID
	// The client closes normally itself, then comes back.
	a2.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	a2.closeCode()
	a3 := resume(a2, "a normal close")
	a3.alive()
	b.alive()
}

// checkErrorPayloadTypes checks an RPC_ERROR against ws-kit's error
// payload: code and message strings, details an object if present,
// retryable a boolean, retryAfterMs a positive number only when retryable.
func checkErrorPayloadTypes(t *testing.T, m msg, cid string, code protocol.Code, retryable bool) {
	t.Helper()
	if m.Type != protocol.TypeRPCError || m.CorrelationID() != cid {
		t.Fatalf("want RPC_ERROR for %s, got %s", cid, m)
	}
	var p map[string]any
	dec := json.NewDecoder(bytes.NewReader(m.Payload))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p["code"] != string(code) {
		t.Fatalf("code %v, want %s: %s", p["code"], code, m)
	}
	if s, ok := p["message"].(string); !ok || s == "" {
		t.Fatalf("message %v", p["message"])
	}
	if d, ok := p["details"]; ok {
		if _, isObj := d.(map[string]any); !isObj {
			t.Fatalf("details %v is not an object", d)
		}
	}
	if r, ok := p["retryable"].(bool); !ok || r != retryable {
		t.Fatalf("retryable %v, want %v: %s", p["retryable"], retryable, m)
	}
	ms, has := p["retryAfterMs"]
	if retryable {
		n, ok := ms.(json.Number)
		if v, err := n.Int64(); !ok || err != nil || v <= 0 {
			t.Fatalf("retryAfterMs %v: %s", ms, m)
		}
	} else if has {
		t.Fatalf("retryAfterMs on a non-retryable error: %s", m)
	}
}
