package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// value is a JSON string of n bytes.
func value(n int) string { return `"` + strings.Repeat("v", n-2) + `"` }

// limitOf returns details.limit of a refusal: the limit's HELLO.limits name.
func limitOf(t *testing.T, p protocol.ErrorPayload) string {
	t.Helper()
	var d struct {
		Limit string `json:"limit"`
	}
	if err := json.Unmarshal(p.Details, &d); err != nil {
		t.Fatalf("details %s: %v", p.Details, err)
	}
	return d.Limit
}

// TestPresenceLimits: a presence value over maxPresenceBytes is refused
// INVALID_ARGUMENT (in JOIN, the whole JOIN); past presenceBytesPerSecond
// RESOURCE_EXHAUSTED with retryAfterMs; past maxRoomPresenceBytes
// RESOURCE_EXHAUSTED, after the catch-up for a JOIN.
func TestPresenceLimits(t *testing.T) {
	ev := newEnv(t, syncd.Options{MaxRoomPresenceBytes: 400}, server.Options{Limits: server.Limits{
		MaxPresenceBytes: 100, PresenceBytesPerSecond: 10,
	}})
	const doc = "limits/presence"
	a := ev.dial("")
	if l := a.hello.Limits; l["maxPresenceBytes"] != 100 || l["maxRoomPresenceBytes"] != 400 || l["presenceBytesPerSecond"] != 10 {
		t.Fatalf("HELLO.limits %v", l)
	}
	a.join(doc)

	// Over the size: refused, in PRESENCE.SET and in JOIN.
	cid := a.nextCID()
	a.sendMeta(protocol.TypePresenceSet, cid, map[string]any{"doc": doc, "state": json.RawMessage(value(101))})
	if p := a.expectRPCError(cid, protocol.CodeInvalidArgument); limitOf(t, p) != protocol.LimitMaxPresenceBytes || !strings.Contains(p.Message, "at most 100") {
		t.Fatalf("refusal %+v", p)
	}
	b := ev.dial("")
	cid = b.nextCID()
	b.sendMeta(protocol.TypeJoin, cid, map[string]any{"doc": doc, "presence": json.RawMessage(value(101))})
	b.expectRPCError(cid, protocol.CodeInvalidArgument)
	cid = b.nextCID()
	b.sendMeta(protocol.TypePresenceSet, cid, map[string]any{"doc": doc, "state": json.RawMessage(value(10))})
	b.expectRPCError(cid, protocol.CodeFailedPrecondition) // the JOIN was refused whole

	// The rate: a burst of two values of the largest size, then 10 B/s.
	a.rpcOK(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": json.RawMessage(value(100))})
	a.rpcOK(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": json.RawMessage(value(99))})
	cid = a.nextCID()
	a.sendMeta(protocol.TypePresenceSet, cid, map[string]any{"doc": doc, "state": json.RawMessage(value(98))})
	if p := a.expectRPCError(cid, protocol.CodeResourceExhausted); p.RetryAfterMs == nil || *p.RetryAfterMs < 1000 {
		t.Fatalf("rate refusal %+v: want retryAfterMs of seconds", p)
	}

	// The room: 400 bytes; a's entry is 26 + 99 + 32 = 157 bytes, so one
	// more such value fits and a third does not.
	c := ev.dial("")
	c.joinWith(map[string]any{"doc": doc, "presence": json.RawMessage(value(99))}, "")
	d := ev.dial("")
	d.join(doc)
	cid = d.nextCID()
	d.sendMeta(protocol.TypePresenceSet, cid, map[string]any{"doc": doc, "state": json.RawMessage(value(99))})
	if p := d.expectRPCError(cid, protocol.CodeResourceExhausted); limitOf(t, p) != protocol.LimitMaxRoomPresenceBytes || !strings.Contains(p.Message, "at most 400") {
		t.Fatalf("room refusal %+v", p)
	}
	// A JOIN with presence into the full room is joined, and told.
	e := ev.dial("")
	e.joinWith(map[string]any{"doc": doc, "presence": json.RawMessage(value(99))}, "")
	e.expectError(protocol.CodeResourceExhausted)
	e.alive()
	// Leaving frees the room.
	c.rpcOK(protocol.TypeLeave, map[string]any{"doc": doc})
	d.rpcOK(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": json.RawMessage(value(99))})
}

// TestPublishLimit: a PUBLISH whose data is over maxPublishBytes is refused
// INVALID_ARGUMENT and not delivered.
func TestPublishLimit(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{Limits: server.Limits{MaxPublishBytes: 100}})
	const doc = "limits/publish"
	a, b := ev.dial(""), ev.dial("")
	a.join(doc)
	b.join(doc)
	if a.hello.Limits["maxPublishBytes"] != 100 {
		t.Fatalf("HELLO.limits %v", a.hello.Limits)
	}
	cid := a.nextCID()
	a.sendMeta(protocol.TypePublish, cid, map[string]any{"doc": doc, "data": json.RawMessage(value(101))})
	if p := a.expectRPCError(cid, protocol.CodeInvalidArgument); limitOf(t, p) != protocol.LimitMaxPublishBytes {
		t.Fatalf("refusal %+v", p)
	}
	a.rpcOK(protocol.TypePublish, map[string]any{"doc": doc, "data": json.RawMessage(value(100))})
	if m := b.expect(protocol.TypeMessage); !strings.Contains(string(m.Raw), value(100)) {
		t.Fatalf("got %s", m)
	}
	b.quiet()
}
