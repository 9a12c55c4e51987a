package presence_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/examples/presence"
)

// joined makes c join as id on a meeting it is new to, and checks the
// snapshot contains it.
func joined(t *testing.T, c *client, id, name string) snapshot {
	t.Helper()
	var s snapshot
	m := c.join(id, name)
	if m.Type != presence.TypeSnapshot {
		t.Fatalf("JOIN answered %s, want a snapshot", m)
	}
	m.decode(t, &s)
	if p, ok := s.Participants[id]; !ok || p.Status != presence.StatusOnline || p.Name != name {
		t.Fatalf("snapshot after JOIN: %+v", s)
	}
	return s
}

func TestJoinAnnouncesParticipant(t *testing.T) {
	clock := newClock(5000)
	ta := startApp(t, presence.Options{Now: clock.Now})
	alice, bob := ta.connect(), ta.connect()
	joined(t, alice, "alice", "Alice")
	clock.Set(6000)
	s := joined(t, bob, "bob", "Bob")
	if s.Rev != 2 || len(s.Participants) != 2 {
		t.Fatalf("bob's snapshot: %+v", s)
	}
	op := alice.expectOp(presence.OpJoined, "bob")
	var p presence.Participant
	json.Unmarshal(op.Payload, &p)
	want := presence.Participant{ID: "bob", Name: "Bob", Status: presence.StatusOnline, LastActive: 6000}
	if op.Rev != 2 || p != want || op.ClientReqID != "" {
		t.Fatalf("alice saw %+v %+v, want rev 2 %+v", op, p, want)
	}
	bob.quiet()
}

func TestUpdateEchoesClientReqID(t *testing.T) {
	ta := startApp(t, presence.Options{})
	alice, bob := ta.connect(), ta.connect()
	joined(t, alice, "alice", "Alice")
	joined(t, bob, "bob", "Bob")
	alice.expectOp(presence.OpJoined, "bob")

	// The whole participant as a patch is fine when its id is the sender's.
	bob.send("UPDATE", `{"patch":{"id":"bob","name":"Robert","status":"away","lastActive":42},"baseRev":2,"clientReqId":"r-1"}`)
	for _, c := range []*client{alice, bob} {
		op := c.expectOp(presence.OpUpdated, "bob")
		if op.Rev != 3 || op.ClientReqID != "r-1" || string(op.Payload) != `{"id":"bob","name":"Robert","status":"away","lastActive":42}` {
			t.Fatalf("got %+v (payload %s)", op, op.Payload)
		}
	}
	if p := ta.state().Participants["bob"]; p != (presence.Participant{ID: "bob", Name: "Robert", Status: "away", LastActive: 42}) {
		t.Fatalf("server has %+v", p)
	}
}

func TestLeaveRemovesParticipant(t *testing.T) {
	ta := startApp(t, presence.Options{})
	alice, bob := ta.connect(), ta.connect()
	joined(t, alice, "alice", "Alice")
	joined(t, bob, "bob", "Bob")

	bob.send("LEAVE", "{}")
	if op := alice.expectOp(presence.OpLeft, "bob"); string(op.Payload) != `{"id":"bob"}` || op.Rev != 3 {
		t.Fatalf("alice saw %+v (payload %s)", op, op.Payload)
	}
	bob.expectOp(presence.OpLeft, "bob") // the leaver's confirmation, then silence
	if _, ok := ta.state().Participants["bob"]; ok {
		t.Fatal("bob is still in the meeting")
	}

	// After LEAVE the connection is out of the meeting, and may come back.
	bob.send("UPDATE", `{"patch":{"status":"away"},"clientReqId":"r-1"}`)
	bob.expectError("FAILED_PRECONDITION")
	bob.send("LEAVE", "")
	bob.expectError("FAILED_PRECONDITION")
	bob.quiet()
	joined(t, bob, "bob", "Bob")
	alice.expectOp(presence.OpJoined, "bob")
}

func TestHeartbeatExpiryRemovesParticipant(t *testing.T) {
	ta := startApp(t, presence.Options{
		HeartbeatInterval: 20 * time.Millisecond,
		HeartbeatTimeout:  100 * time.Millisecond,
		CloseTimeout:      50 * time.Millisecond,
		// Long, so that only the heartbeat can be what removes bob.
		DisconnectGrace: time.Hour,
	})
	alice := ta.connect() // its reader answers pings
	joined(t, alice, "alice", "Alice")

	// bob joins, then goes silent: he reads nothing more (so answers no
	// ping) and sends nothing.
	bob := dial(t, ta.url)
	defer bob.Close()
	bob.WriteMessage(websocket.TextMessage, []byte(`{"type":"JOIN","payload":{"participantId":"bob","name":"Bob"}}`))
	if _, data, err := bob.ReadMessage(); err != nil || !strings.Contains(string(data), `"SYNC.SNAPSHOT"`) {
		t.Fatalf("bob's JOIN: %s %v", data, err)
	}
	alice.expectOp(presence.OpJoined, "bob")

	alice.expectOp(presence.OpLeft, "bob")
	if st := ta.state(); len(st.Participants) != 1 {
		t.Fatalf("after expiry the meeting is %+v", st.Participants)
	}
	// The server closed bob with "heartbeat timeout" (if the close frame
	// made it before the connection was dropped).
	bob.SetReadDeadline(time.Now().Add(wait))
	for {
		_, _, err := bob.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code != 4408 {
			t.Fatalf("bob closed with %d, want 4408", ce.Code)
		}
		break
	}
}

func TestHeartbeatMessageKeepsAlive(t *testing.T) {
	ta := startApp(t, presence.Options{
		HeartbeatInterval: 20 * time.Millisecond,
		HeartbeatTimeout:  100 * time.Millisecond,
		CloseTimeout:      50 * time.Millisecond,
	})
	alice := ta.connect()
	joined(t, alice, "alice", "Alice")
	// bob answers no ping, but sends the seed's HEARTBEAT: that is enough.
	bob := dial(t, ta.url)
	defer bob.Close()
	bob.WriteMessage(websocket.TextMessage, []byte(`{"type":"JOIN","payload":{"participantId":"bob","name":"Bob"}}`))
	for end := time.Now().Add(400 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if err := bob.WriteMessage(websocket.TextMessage, []byte(`{"type":"HEARTBEAT","payload":{}}`)); err != nil {
			t.Fatalf("bob was disconnected: %v", err)
		}
	}
	if _, ok := ta.state().Participants["bob"]; !ok {
		t.Fatal("bob was removed although he sent HEARTBEATs")
	}
}

func TestDisconnectRemovesAfterGrace(t *testing.T) {
	ta := startApp(t, presence.Options{DisconnectGrace: 50 * time.Millisecond})
	alice, bob := ta.connect(), ta.connect()
	joined(t, alice, "alice", "Alice")
	joined(t, bob, "bob", "Bob")
	bob.close()
	alice.expectOp(presence.OpLeft, "bob")
}

func TestReconnectCatchesUpWithDeltas(t *testing.T) {
	ta := startApp(t, presence.Options{})
	// Long names make the meeting bigger than a few operations, so that
	// deltas, not a snapshot, are the cheaper catch-up.
	long := strings.Repeat("x", 200)
	alice, bob := ta.connect(), ta.connect()
	joined(t, alice, "alice", "Alice "+long)
	s := joined(t, bob, "bob", "Bob "+long)
	bob.close() // bob has revision 2

	alice.send("UPDATE", `{"patch":{"status":"away"},"clientReqId":"a-1"}`)
	alice.send("UPDATE", `{"patch":{"lastActive":7},"clientReqId":"a-2"}`)
	alice.expectOp(presence.OpUpdated, "alice")
	alice.expectOp(presence.OpUpdated, "alice")

	// bob is still there (within the grace), so his JOIN changes nothing
	// and he gets just what he missed.
	bob = ta.connect()
	bob.send("JOIN", fmt.Sprintf(`{"participantId":"bob","name":%s,"rev":%d}`, quote("Bob "+long), s.Rev))
	var d deltas
	bob.expect(presence.TypeDeltas).decode(t, &d)
	if d.FromRev != 2 || d.ToRev != 4 || len(d.Operations) != 2 || d.Operations[1].ClientReqID != "a-2" {
		t.Fatalf("bob's catch-up: %+v", d)
	}
	bob.quiet()
	if rev := ta.state().Rev; rev != 4 {
		t.Fatalf("the rejoin committed something: revision %d", rev)
	}

	// A client already at the head gets an empty SYNC.DELTAS, so that
	// every JOIN is answered. (A new connection for bob takes him over.)
	again := ta.connect()
	again.send("JOIN", fmt.Sprintf(`{"participantId":"bob","name":%s,"rev":4}`, quote("Bob "+long)))
	m := again.expect(presence.TypeDeltas)
	if !strings.Contains(string(m.Payload), `"operations":[]`) {
		t.Fatalf("at the head: %s", m)
	}
	m.decode(t, &d)
	if d.FromRev != 4 || d.ToRev != 4 {
		t.Fatalf("at the head: %+v", d)
	}
	if code := bob.closed(); code != 4409 {
		t.Fatalf("the replaced connection closed with %d, want 4409", code)
	}
}

func TestJoinAheadOfServerGetsGapAndSnapshot(t *testing.T) {
	ta := startApp(t, presence.Options{})
	c := ta.connect()
	c.send("JOIN", `{"participantId":"alice","name":"Alice","rev":999}`)
	var gap struct {
		ExpectedRev, ServerRev, BufferFirstRev, ResumeFrom uint64
	}
	c.expect(presence.TypeRevisionGap).decode(t, &gap)
	if gap.ExpectedRev != 999 || gap.ServerRev != 1 || gap.ResumeFrom != 1 || gap.BufferFirstRev != 1 {
		t.Fatalf("gap: %+v", gap)
	}
	var s snapshot
	c.expect(presence.TypeSnapshot).decode(t, &s)
	if s.Rev != 1 || len(s.Participants) != 1 {
		t.Fatalf("snapshot: %+v", s)
	}
}

func TestJoinTakesOverParticipant(t *testing.T) {
	ta := startApp(t, presence.Options{DisconnectGrace: 20 * time.Millisecond})
	first, second := ta.connect(), ta.connect()
	joined(t, first, "alice", "Alice")
	joined(t, second, "alice", "Alice")
	if code := first.closed(); code != 4409 {
		t.Fatalf("the older connection closed with %d, want 4409 (replaced)", code)
	}
	// The older connection's close must not start alice's grace: she is
	// still here long after it would have run out.
	time.Sleep(200 * time.Millisecond)
	if st := ta.state(); st.Rev != 1 || len(st.Participants) != 1 {
		t.Fatalf("after the takeover: %+v", st)
	}
	second.send("UPDATE", `{"patch":{"status":"away"},"clientReqId":"r-1"}`)
	second.expectOp(presence.OpUpdated, "alice")
}

func TestBadInputIsAnswered(t *testing.T) {
	ta := startApp(t, presence.Options{})
	observer := ta.connect()
	joined(t, observer, "observer", "Observer")

	stranger := ta.connect() // not joined
	stranger.send("UPDATE", `{"patch":{"status":"away"},"clientReqId":"r-1"}`)
	if p := stranger.expectError("FAILED_PRECONDITION"); string(p.Details) != `{"clientReqId":"r-1"}` {
		t.Fatalf("details: %s", p.Details)
	}
	stranger.send("LEAVE", "{}")
	stranger.expectError("FAILED_PRECONDITION")

	c := ta.connect()
	joined(t, c, "alice", "Alice")
	observer.expectOp(presence.OpJoined, "alice")
	before := ta.state()

	cases := []struct {
		name, frame, code string
	}{
		{"invalid JSON", `{"type":"JOIN",`, "INVALID_ARGUMENT"},
		{"not an object", `[1,2]`, "INVALID_ARGUMENT"},
		{"unknown type", `{"type":"PUBLISH","payload":{}}`, "UNIMPLEMENTED"},
		{"join without participantId", `{"type":"JOIN","payload":{"name":"X"}}`, "INVALID_ARGUMENT"},
		{"join with empty participantId", `{"type":"JOIN","payload":{"participantId":"","name":"X"}}`, "INVALID_ARGUMENT"},
		{"join with unknown field", `{"type":"JOIN","payload":{"participantId":"x","name":"X","doc":"d"}}`, "INVALID_ARGUMENT"},
		{"join with a string rev", `{"type":"JOIN","payload":{"participantId":"x","name":"X","rev":"1"}}`, "INVALID_ARGUMENT"},
		{"join twice", `{"type":"JOIN","payload":{"participantId":"alice2","name":"A"}}`, "FAILED_PRECONDITION"},
		{"patch is a JSON Patch", `{"type":"UPDATE","payload":{"patch":[{"op":"add","path":"/x","value":1}],"clientReqId":"r-2"}}`, "INVALID_ARGUMENT"},
		{"patch with unknown field", `{"type":"UPDATE","payload":{"patch":{"role":"host"},"clientReqId":"r-3"}}`, "INVALID_ARGUMENT"},
		{"patch of someone else", `{"type":"UPDATE","payload":{"patch":{"id":"observer","status":"away"},"clientReqId":"r-4"}}`, "INVALID_ARGUMENT"},
		{"patch with a bad status", `{"type":"UPDATE","payload":{"patch":{"status":"busy"},"clientReqId":"r-5"}}`, "INVALID_ARGUMENT"},
		{"patch with null", `{"type":"UPDATE","payload":{"patch":{"status":null},"clientReqId":"r-6"}}`, "INVALID_ARGUMENT"},
		{"patch with a wrong type", `{"type":"UPDATE","payload":{"patch":{"lastActive":"now"},"clientReqId":"r-7"}}`, "INVALID_ARGUMENT"},
		{"empty patch", `{"type":"UPDATE","payload":{"patch":{},"clientReqId":"r-8"}}`, "INVALID_ARGUMENT"},
		{"null patch", `{"type":"UPDATE","payload":{"patch":null,"clientReqId":"r-9"}}`, "INVALID_ARGUMENT"},
		{"update without clientReqId", `{"type":"UPDATE","payload":{"patch":{"status":"away"}}}`, "INVALID_ARGUMENT"},
		{"update with a bad clientReqId", `{"type":"UPDATE","payload":{"patch":{"status":"away"},"clientReqId":"has space"}}`, "INVALID_ARGUMENT"},
		{"leave with a payload", `{"type":"LEAVE","payload":{"now":true}}`, "INVALID_ARGUMENT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			c.sendRaw(tc.frame)
			p := c.expectError(tc.code)
			t.Logf("%s: %s", p.Code, p.Message)
		})
	}
	c.t = t

	// baseRev ahead of the server is refused by the engine, with the
	// details a client needs to roll the request back.
	c.send("UPDATE", `{"patch":{"status":"away"},"baseRev":99,"clientReqId":"r-10"}`)
	var d struct {
		ClientReqID string `json:"clientReqId"`
		ServerRev   uint64 `json:"serverRev"`
	}
	json.Unmarshal(c.expectError("INVALID_ARGUMENT").Details, &d)
	if d.ClientReqID != "r-10" || d.ServerRev != before.Rev {
		t.Fatalf("details: %+v", d)
	}

	// Nothing changed, and the other client noticed nothing.
	if after := ta.state(); after.Rev != before.Rev {
		t.Fatalf("revision moved from %d to %d", before.Rev, after.Rev)
	}
	observer.quiet()
	// The connection still works.
	c.send("UPDATE", `{"patch":{"status":"away"},"clientReqId":"r-11"}`)
	observer.expectOp(presence.OpUpdated, "alice")
}

func TestFloodGuard(t *testing.T) {
	ta := startApp(t, presence.Options{MessagesPerSecond: 1})
	c := ta.connect()
	for i := 0; i < 5; i++ {
		c.send("HEARTBEAT", "{}")
	}
	c.expectError("RESOURCE_EXHAUSTED")
}

// TestServe runs what cmd/presence runs.
func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- presence.Serve(ctx, ln, presence.Options{}) }()

	ta := &testApp{t: t, url: "ws://" + ln.Addr().String() + "/ws"}
	c := ta.connect()
	joined(t, c, "alice", "Alice")
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if code := c.closed(); code != websocket.CloseGoingAway {
		t.Fatalf("closed with %d, want 1001 (going away)", code)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []presence.Options{{Doc: "bad doc id"}, {History: 1}} {
		if app, err := presence.New(o); err == nil {
			app.Close()
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

func TestSmallerSnapshotComesWithoutGap(t *testing.T) {
	ta := startApp(t, presence.Options{})
	alice, bob := ta.connect(), ta.connect()
	joined(t, alice, "alice", "Alice")
	joined(t, bob, "bob", "Bob")
	bob.close()
	for i := 0; i < 3; i++ {
		alice.send("UPDATE", fmt.Sprintf(`{"patch":{"lastActive":%d},"clientReqId":"a-%d"}`, i, i))
		alice.expectOp(presence.OpUpdated, "alice")
	}
	// Three operations weigh more than this small meeting: the engine
	// sends the snapshot instead, and since bob is not behind the history,
	// there is no REVISION_GAP.
	bob = ta.connect()
	bob.send("JOIN", `{"participantId":"bob","name":"Bob","rev":2}`)
	var s snapshot
	bob.expect(presence.TypeSnapshot).decode(t, &s)
	if s.Rev != 5 || len(s.Participants) != 2 {
		t.Fatalf("snapshot: %+v", s)
	}
}

func TestHistoryOption(t *testing.T) {
	const history = 16
	ta := startApp(t, presence.Options{History: history})
	alice, bob := ta.connect(), ta.connect()
	joined(t, alice, "alice", "Alice")
	joined(t, bob, "bob", "Bob")
	bob.close()
	for i := 0; i < 3*history; i++ {
		alice.send("UPDATE", fmt.Sprintf(`{"patch":{"lastActive":%d},"clientReqId":"a-%d"}`, i, i))
	}
	for i := 0; i < 3*history; i++ {
		alice.expectOp(presence.OpUpdated, "alice")
	}
	head := uint64(2 + 3*history)
	bob = ta.connect()
	bob.send("JOIN", `{"participantId":"bob","name":"Bob","rev":2}`)
	var gap struct {
		ExpectedRev, ServerRev, BufferFirstRev, ResumeFrom uint64
	}
	bob.expect(presence.TypeRevisionGap).decode(t, &gap)
	if gap.ExpectedRev != 2 || gap.ServerRev != head || gap.ResumeFrom != head || gap.BufferFirstRev != head-history+1 {
		t.Fatalf("gap: %+v, want the last %d of %d revisions held", gap, history, head)
	}
	var s snapshot
	bob.expect(presence.TypeSnapshot).decode(t, &s)
	if s.Rev != head {
		t.Fatalf("snapshot at %d, want %d", s.Rev, head)
	}
}
