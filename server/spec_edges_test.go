package server_test

// Findings of review edge: each test fails on the code as it was found.

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// An HTTP edit's clientId that is not a ULID is not a client id (§2.2: "A
// clientId that is not a ULID refuses the upgrade with HTTP 400"; §11.1:
// the pair gives the idempotency "of an UPDATE from that client"): it must
// be refused 400, not committed under a made-up client.
func TestHTTPEditClientIDNotULID(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: "k"})
	st, body, _ := ev.do("POST", "/v1/docs/edge:notulid/edits", "k", map[string]any{"patch": map[string]any{"n": 1}, "clientId": "not-a-ulid", "clientReqId": "r-1"})
	if st != 400 {
		t.Errorf("clientId \"not-a-ulid\": HTTP %d %s, want 400 INVALID_ARGUMENT", st, body)
	}
}

// §11.1: GET /v1/docs?limit=<n>, "limit at most 1000". limit=0 passed the
// query check and reached the store, which refuses a limit below 1: the
// client's bad parameter came back as 500 INTERNAL.
func TestHTTPListLimitZero(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: "k"})
	ev.commit("edge:list", map[string]any{"n": 1})
	st, body, _ := ev.do("GET", "/v1/docs?limit=0", "k", nil)
	if st >= 500 {
		t.Errorf("GET /v1/docs?limit=0: HTTP %d %s, want a 4xx (or a default limit), never a server error", st, body)
	}
}

// §3.1: correlationId is "string, 1–128 bytes"; §3.4: a message that
// carries meta.correlationId gets exactly one terminal answer; §3.2: every
// violation is answered. An empty correlationId got no answer at all: not
// HEARTBEAT.OK, not an error.
func TestEmptyCorrelationIDAnswered(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	c := ev.dial("")
	c.sendRaw(`{"type":"HEARTBEAT","meta":{"correlationId":""}}`)
	got := c.drain()
	if len(got) != 1 {
		t.Fatalf("HEARTBEAT with correlationId \"\": %d answers %v, want exactly one (an INVALID_ARGUMENT ERROR)", len(got), got)
	}
}

// §10.5 (convergence) and §3.2: a client that applies the operations it
// receives holds the server's state. A lone UTF-16 surrogate escape
// ("\ud800") reads as U+FFFD in Go and as itself in JavaScript's
// JSON.parse, so an edit holding one would leave JavaScript clients with
// other member names than the server's (two members where the server
// holds one, here). It is refused INVALID_ARGUMENT, on the WebSocket and
// through the HTTP API, and nothing is committed.
func TestLoneSurrogateRefused(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: "k"})
	c := ev.dial("")
	c.join("edge:sur")
	c.drain()
	reqID := c.nextReq()
	c.sendRaw(`{"type":"UPDATE","payload":{"doc":"edge:sur","clientReqId":"` + reqID + `","patch":{"m":{"\ud800":1,"\udbff":2}}}}`)
	p := c.expectError(protocol.CodeInvalidArgument)
	if !strings.Contains(p.Message, "surrogate") {
		t.Errorf("refusal %q does not name the lone surrogate", p.Message)
	}
	st, body, _ := ev.do("POST", "/v1/docs/edge:sur/edits", "k", `{"patch":{"m":{"\ud800":1}}}`)
	if st != 400 || !strings.Contains(string(body), "surrogate") {
		t.Errorf("HTTP edit with a lone surrogate: %d %s, want 400 naming it", st, body)
	}
	// A surrogate pair is one character, and fine.
	st, body, _ = ev.do("POST", "/v1/docs/edge:sur/edits", "k", `{"patch":{"m":"\ud83c\udf89"}}`)
	if st != 200 {
		t.Fatalf("HTTP edit with a surrogate pair: %d %s", st, body)
	}
	if got := ev.state("edge:sur")["m"]; got != "🎉" {
		t.Errorf("state m = %q after a surrogate pair, want 🎉 (and nothing from the refused edits)", got)
	}
}

// §1: "ULIDs ... The server accepts them in either case". An epoch sent
// in lower case (a valid ULID) was compared with the document's epoch as
// a string: UPDATE was refused ABORTED (a decision: the id entered the
// watermark), the HTTP API's edit 409, and a JOIN from (epoch, rev) got a
// REVISION_GAP reason "epoch" and a snapshot instead of its deltas.
func TestEpochInLowerCase(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: "k"})
	ev.commit("edge:ep", map[string]any{"a": 1})
	ev.pad("edge:ep", 4000)
	ev.commit("edge:ep", map[string]any{"b": 1})
	lower := strings.ToLower(string(ev.snapshot("edge:ep").Epoch))

	st, body, _ := ev.do("POST", "/v1/docs/edge:ep/edits", "k", `{"patch":{"c":1},"epoch":"`+lower+`","baseRev":3}`)
	if st != 200 {
		t.Errorf("HTTP edit with epoch %s: %d %s, want 200", lower, st, body)
	}

	c := ev.dial("")
	a := c.joinWith(map[string]any{"doc": "edge:ep", "rev": 2, "epoch": lower}, "")
	if a.gap != nil {
		t.Errorf("JOIN at rev 2 of epoch %s (the document's, in lower case): REVISION_GAP %+v, want deltas", lower, *a.gap)
	}
	c.drain()
	head := ev.snapshot("edge:ep").Rev
	reqID := c.nextReq()
	c.update("edge:ep", map[string]any{"d": 1}, reqID, map[string]any{"epoch": lower, "baseRev": head})
	for {
		m := c.read()
		if m.Type == protocol.TypeError {
			t.Fatalf("UPDATE with epoch %s: %s, want it committed", lower, m)
		}
		if m.Type == protocol.TypeSyncDeltas {
			break
		}
	}
}

// §3.2: "A message may nest arrays and objects at most 512 levels deep,
// the envelope included; a deeper one is INVALID_ARGUMENT": the envelope
// counts, so 512 levels pass and 513 do not.
func TestNestingLimit(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	a := ev.dial("")
	a.rpcOK("SUBSCRIBE", map[string]any{"topic": "t"})
	deep := func(k int) string { return strings.Repeat("[", k) + strings.Repeat("]", k) }
	// envelope (1) + payload (2) + 510 arrays = 512 levels.
	a.rpcOK("PUBLISH", map[string]any{"topic": "t", "data": json.RawMessage(deep(510))})
	// One more: 513.
	a.sendRaw(`{"type":"PUBLISH","meta":{"correlationId":"p"},"payload":{"topic":"t","data":` + deep(511) + `}}`)
	if m := a.read(); m.Type != protocol.TypeError && m.Type != protocol.TypeRPCError {
		t.Errorf("a message 513 levels deep: %.80s, want INVALID_ARGUMENT", m)
	}
}

// §11.1: the edit body's "unknown fields [are] refused" and §3.2 keys
// "match exactly, with case": encoding/json would match "Patch" to patch
// and ignore what follows the first value. Both bodies are refused.
func TestHTTPEditBodyStrict(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: "k"})
	for _, b := range []string{`{"Patch":{"a":1}}`, `{"patch":{"a":2}} {"patch":{"a":3}}`} {
		if st, body, _ := ev.do("POST", "/v1/docs/edge:strict/edits", "k", b); st != 400 {
			t.Errorf("body %s: HTTP %d %s, want 400 INVALID_ARGUMENT", b, st, body)
		}
	}
}
