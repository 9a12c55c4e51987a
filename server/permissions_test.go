package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// The permission matrix: every message type, plain and as an RPC, from a
// token with write, read or no rights on the document and the topic it
// names, against a real server over real sockets; and every route of the
// HTTP API with no, a wrong and the right API key. Each cell is either
// allowed or refused with the code PROTOCOL.md documents (§4, §7.1), and a
// refused message has no effect that another client in the room can see.

// permSecret is at least 32 bytes, as HS256 secrets must be.
const permSecret = "permission-matrix-secret-0123456789abcdef"

// right is what a token allows on one document or topic.
type right int

const (
	noRight right = iota
	readRight
	writeRight
)

func (r right) String() string { return [...]string{"none", "read", "write"}[r] }

// rights are a token's rights on the matrix's document and topic.
type rights struct{ doc, topic right }

const (
	permDoc   = "m/doc"
	permTopic = "t/room"
)

// patternsFor grants r on pattern as a {read, write} claim.
func patternsFor(r right, pattern string) map[string][]string {
	switch r {
	case writeRight:
		return map[string][]string{"read": {pattern}, "write": {pattern}}
	case readRight:
		return map[string][]string{"read": {pattern}}
	}
	// Rights elsewhere only: the claim is present, but not for us.
	return map[string][]string{"read": {"other/*"}, "write": {"other/*"}}
}

// permToken signs a token with the docs and topics claims of r.
func permToken(t testing.TB, sub string, r rights) string {
	t.Helper()
	claims := jwt.MapClaims{
		"sub":    sub,
		"exp":    time.Now().Add(time.Hour).Unix(),
		"docs":   patternsFor(r.doc, "m/*"),
		"topics": patternsFor(r.topic, "t/*"),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(permSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// permCase is one row of the matrix: a message, the state a client needs
// for it (joined, subscribed: set up when its rights allow), and the code
// it is refused with for given rights ("" when allowed).
type permCase struct {
	typ     string
	payload map[string]any
	join    bool // join permDoc first (when the token may read it)
	sub     bool // subscribe to permTopic first (when it may)
	reply   string
	refusal func(r rights) protocol.Code
}

func allowed(rights) protocol.Code { return "" }

// needDoc is the refusal of a message on the joined document that needs
// want: not joined (FAILED_PRECONDITION) comes first, as for UPDATE
// (§7.2), then the right (PERMISSION_DENIED).
func needDoc(want right) func(rights) protocol.Code {
	return func(r rights) protocol.Code {
		switch {
		case r.doc == noRight:
			return protocol.CodeFailedPrecondition
		case r.doc < want:
			return protocol.CodePermissionDenied
		}
		return ""
	}
}

var permCases = []permCase{
	{typ: protocol.TypeJoin, payload: map[string]any{"doc": permDoc}, reply: protocol.TypeSyncSnapshot,
		refusal: func(r rights) protocol.Code {
			if r.doc == noRight {
				return protocol.CodePermissionDenied
			}
			return ""
		}},
	{typ: protocol.TypeJoin, payload: map[string]any{"doc": permDoc, "presence": map[string]any{"name": "x"}}, reply: protocol.TypeSyncSnapshot,
		refusal: func(r rights) protocol.Code {
			if r.doc < writeRight {
				return protocol.CodePermissionDenied
			}
			return ""
		}},
	{typ: protocol.TypeUpdate, payload: map[string]any{"doc": permDoc, "patch": map[string]any{"k": 1}}, join: true, reply: "UPDATE.OK", refusal: needDoc(writeRight)},
	{typ: protocol.TypeLeave, payload: map[string]any{"doc": permDoc}, join: true, reply: "LEAVE.OK", refusal: needDoc(readRight)},
	{typ: protocol.TypePresenceSet, payload: map[string]any{"doc": permDoc, "state": map[string]any{"cursor": 1}}, join: true, reply: "PRESENCE.SET.OK", refusal: needDoc(writeRight)},
	{typ: protocol.TypePublish, payload: map[string]any{"doc": permDoc, "data": "hello room"}, join: true, reply: "PUBLISH.OK", refusal: needDoc(writeRight)},
	{typ: protocol.TypeSubscribe, payload: map[string]any{"topic": permTopic}, reply: "SUBSCRIBE.OK",
		refusal: func(r rights) protocol.Code {
			if r.topic == noRight {
				return protocol.CodePermissionDenied
			}
			return ""
		}},
	{typ: protocol.TypePublish, payload: map[string]any{"topic": permTopic, "data": "hello topic"}, sub: true, reply: "PUBLISH.OK",
		refusal: func(r rights) protocol.Code {
			switch r.topic {
			case noRight:
				return protocol.CodeFailedPrecondition // could not subscribe
			case readRight:
				return protocol.CodePermissionDenied
			}
			return ""
		}},
	{typ: protocol.TypeUnsubscribe, payload: map[string]any{"topic": permTopic}, sub: true, reply: "UNSUBSCRIBE.OK", refusal: allowed},
	{typ: protocol.TypeHeartbeat, payload: map[string]any{}, reply: "HEARTBEAT.OK", refusal: allowed},
	{typ: protocol.TypeHeartbeatPing, reply: protocol.TypeHeartbeatAck, refusal: allowed},
}

// permColumn is one token (or none, with authentication off).
type permColumn struct {
	name   string
	rights rights
	token  func(t testing.TB, sub string) string
}

func TestPermissionMatrix(t *testing.T) {
	var columns []permColumn
	for _, d := range []right{noRight, readRight, writeRight} {
		for _, tp := range []right{noRight, readRight, writeRight} {
			r := rights{doc: d, topic: tp}
			columns = append(columns, permColumn{name: fmt.Sprintf("docs=%v,topics=%v", d, tp), rights: r,
				token: func(t testing.TB, sub string) string { return permToken(t, sub, r) }})
		}
	}
	// A token without docs and topics claims: every document, no topic.
	columns = append(columns, permColumn{name: "no claims", rights: rights{doc: writeRight, topic: noRight},
		token: func(t testing.TB, sub string) string { return token(t, permSecret, sub, nil, time.Hour) }})

	ev := newEnv(t, syncd.Options{}, server.Options{JWTSecret: []byte(permSecret)})
	runMatrix(t, ev, columns)
}

// TestPermissionMatrixOpen: without authentication everything is allowed,
// topics included, as before topics had rights.
func TestPermissionMatrixOpen(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	runMatrix(t, ev, []permColumn{{name: "no authentication", rights: rights{doc: writeRight, topic: writeRight},
		token: func(testing.TB, string) string { return "" }}})
}

func runMatrix(t *testing.T, ev *env, columns []permColumn) {
	// The observer has every right and sits in the document's room and
	// the topic: it must see nothing of a refused message.
	observerToken := ""
	if columns[0].token(t, "x") != "" {
		observerToken = permToken(t, "observer", rights{doc: writeRight, topic: writeRight})
	}
	obs := ev.dialWith(dialOpts{token: observerToken})
	obs.join(permDoc)
	obs.rpcOK(protocol.TypeSubscribe, map[string]any{"topic": permTopic})

	for _, col := range columns {
		for _, pc := range permCases {
			for _, rpc := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s%s", col.name, pc.typ, payloadShape(pc.payload))
				if rpc {
					name += "/rpc"
				}
				t.Run(name, func(t *testing.T) {
					c := ev.dialWith(dialOpts{token: col.token(t, "user-"+strings.ReplaceAll(col.name, " ", "-"))})
					defer c.ws.Close()
					c.t = t
					if pc.join && col.rights.doc >= readRight {
						c.join(permDoc)
					}
					if pc.sub && col.rights.topic >= readRight {
						c.rpcOK(protocol.TypeSubscribe, map[string]any{"topic": permTopic})
					}
					want := pc.refusal(col.rights)
					cid := ""
					if rpc {
						cid = c.nextCID()
					}
					payload := pc.payload
					if pc.typ == protocol.TypeUpdate {
						payload = updatePayload(permDoc, payload["patch"], c.nextReq())
					}
					if pc.typ == protocol.TypeHeartbeatPing {
						if rpc {
							t.Skip("__heartbeat has no RPC form")
						}
						c.sendRaw(`{"type":"__heartbeat"}`)
					} else {
						c.sendMeta(pc.typ, cid, payload)
					}
					checkPermAnswer(t, c, pc, cid, want)
					obs.t = t
					checkObserverSaw(t, obs, c.id, want != "")
				})
			}
		}
	}
}

// payloadShape names a case's payload for the subtest's name.
func payloadShape(p map[string]any) string {
	var keys []string
	for k := range p {
		if k != "data" && k != "state" && k != "patch" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return ""
	}
	return "{" + strings.Join(keys, ",") + "}"
}

// checkPermAnswer reads the answer to the case's message: the reply, or
// the refusal with want.
func checkPermAnswer(t *testing.T, c *client, pc permCase, cid string, want protocol.Code) {
	t.Helper()
	if cid == "" {
		// A plain message: its refusal is an ERROR before the drain's
		// HEARTBEAT.OK; an allowed one is answered by no ERROR.
		var errs []protocol.ErrorPayload
		replied := false
		for _, m := range c.drain() {
			switch m.Type {
			case protocol.TypeError:
				errs = append(errs, errorPayload(t, m))
			case pc.reply:
				replied = true
			}
		}
		switch {
		case want == "" && len(errs) > 0:
			t.Fatalf("allowed, but refused: %+v", errs)
		case want != "" && (len(errs) != 1 || errs[0].Code != want):
			t.Fatalf("errors %+v, want one %s", errs, want)
		case want == "" && (pc.typ == protocol.TypeJoin || pc.typ == protocol.TypeHeartbeatPing) && !replied:
			t.Fatalf("no %s", pc.reply)
		}
		if want != "" {
			checkRefusalDetails(t, pc, errs[0])
		}
		return
	}
	for i := 0; i < 100; i++ {
		m := c.read()
		if m.CorrelationID() != cid {
			continue // the room's PRESENCE, an UPDATE's echo
		}
		switch {
		case want == "" && m.Type != pc.reply:
			t.Fatalf("got %s, want %s", m, pc.reply)
		case want != "" && m.Type != protocol.TypeRPCError:
			t.Fatalf("got %s, want RPC_ERROR %s", m, want)
		case want != "":
			p := errorPayload(t, m)
			if p.Code != want {
				t.Fatalf("got %s, want %s", m, want)
			}
			checkRefusalDetails(t, pc, p)
		}
		return
	}
	t.Fatalf("no answer for %s", cid)
}

// checkRefusalDetails: a refusal names the document or topic it is about.
func checkRefusalDetails(t *testing.T, pc permCase, p protocol.ErrorPayload) {
	t.Helper()
	if p.Code != protocol.CodePermissionDenied {
		return
	}
	var d struct{ Doc, Topic string }
	json.Unmarshal(p.Details, &d)
	if d.Doc != pc.payload["doc"] && d.Topic != pc.payload["topic"] {
		t.Fatalf("refusal details %s name neither %v nor %v", p.Details, pc.payload["doc"], pc.payload["topic"])
	}
	if p.Retryable == nil || *p.Retryable {
		t.Fatalf("PERMISSION_DENIED marked retryable: %+v", p)
	}
}

// checkObserverSaw drains the observer; if the action was refused, nothing
// of it may have reached the room: no message from actor, no edit, no
// presence of actor.
func checkObserverSaw(t *testing.T, obs *client, actor string, refused bool) {
	t.Helper()
	for _, m := range obs.drain() {
		if !refused {
			continue
		}
		switch m.Type {
		case protocol.TypeMessage:
			if decodeAs[protocol.Message](t, m).From == actor {
				t.Fatalf("a refused message reached the room: %s", m)
			}
		case protocol.TypeSyncDeltas:
			for _, op := range decodeAs[protocol.SyncDeltas](t, m).Operations {
				if op.ClientID == actor {
					t.Fatalf("a refused edit reached the room: %s", m)
				}
			}
		case protocol.TypePresence:
			p := decodeAs[protocol.Presence](t, m)
			for _, pc := range p.Clients {
				if pc.ClientID == actor {
					t.Fatalf("a refused presence reached the room: %s", m)
				}
			}
		}
	}
}

// TestAPIKeyMatrix: every route of the HTTP API with no key, a wrong key,
// a JWT instead of the key, and the right key in either header. Routes
// without credentials (health, metrics, the demo) answer without one.
func TestAPIKeyMatrix(t *testing.T) {
	const apiKey = "api-key-of-at-least-32-bytes-0123456789"
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: apiKey, JWTSecret: []byte(permSecret)})
	ev.commit(permDoc, map[string]any{"a": 1})
	jwtAsKey := permToken(t, "ann", rights{doc: writeRight, topic: writeRight})
	keys := []struct {
		name   string
		header http.Header
		ok     bool
	}{
		{"none", http.Header{}, false},
		{"wrong bearer", http.Header{"Authorization": {"Bearer wrong-key"}}, false},
		{"wrong X-API-Key", http.Header{"X-Api-Key": {"wrong-key"}}, false},
		{"key with a suffix", http.Header{"X-Api-Key": {apiKey + "x"}}, false},
		{"a JWT is not the key", http.Header{"Authorization": {"Bearer " + jwtAsKey}}, false},
		{"basic auth", http.Header{"Authorization": {"Basic " + apiKey}}, false},
		{"right bearer", http.Header{"Authorization": {"Bearer " + apiKey}}, true},
		{"right X-API-Key", http.Header{"X-Api-Key": {apiKey}}, true},
	}
	routes := []struct {
		method, path, body string
		status             int // with the right key
	}{
		{"GET", "/v1/docs", "", http.StatusOK},
		{"GET", "/v1/docs/m%2Fdoc", "", http.StatusOK},
		{"GET", "/v1/docs/m%2Fnone", "", http.StatusNotFound},
		{"GET", "/v1/docs/m%2Fdoc/ops?after=0", "", http.StatusOK},
		{"POST", "/v1/docs/m%2Fdoc/edits", `{"patch":{"b":2}}`, http.StatusOK},
		{"DELETE", "/v1/docs/m%2Fgone", "", http.StatusNoContent},
		{"GET", "/v1/backup", "", http.StatusNotImplemented}, // memstore: no backup
	}
	for _, rt := range routes {
		for _, k := range keys {
			t.Run(rt.method+" "+rt.path+"/"+k.name, func(t *testing.T) {
				if rt.method == "DELETE" {
					ev.commit("m/gone", map[string]any{"a": 1})
				}
				before := ev.snapshot(permDoc)
				status, body := apiRequest(t, ev, rt.method, rt.path, rt.body, k.header)
				if !k.ok {
					if status != http.StatusUnauthorized || !strings.Contains(body, string(protocol.CodeUnauthenticated)) {
						t.Fatalf("HTTP %d %s, want 401 UNAUTHENTICATED", status, body)
					}
					ev.sameSnapshot(permDoc, before)
					return
				}
				if status != rt.status {
					t.Fatalf("HTTP %d %s, want %d", status, body, rt.status)
				}
			})
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/", "/syncd.js"} {
		if status, body := apiRequest(t, ev, "GET", path, "", nil); status != http.StatusOK {
			t.Errorf("GET %s without credentials: HTTP %d %.200s", path, status, body)
		}
	}
}

// apiRequest sends one request to ev with header and returns the status
// and body.
func apiRequest(t testing.TB, ev *env, method, path, body string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, ev.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := (&http.Client{Timeout: readTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for i := 0; i < 1<<10; i++ {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}
