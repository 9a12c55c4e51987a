package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// Presence: announced on join, change, leave, close and heartbeat expiry;
// one live connection per client id.

// presence reads (skipping nothing) the next PRESENCE.
func (c *client) presence() protocol.Presence {
	c.t.Helper()
	return decodeAs[protocol.Presence](c.t, c.next(protocol.TypePresence))
}

func presenceOf(p protocol.Presence) map[string]string {
	m := map[string]string{}
	for _, c := range p.Clients {
		m[c.ClientID] = string(c.State)
	}
	return m
}

func TestPresenceJoinSetLeave(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "presence/room"
	a := ev.dial("")
	ans := a.joinWith(map[string]any{"doc": doc, "presence": map[string]any{"name": "A"}}, "")
	if ans.presence.Clients == nil || len(ans.presence.Clients) != 0 || ans.presence.Left != nil {
		t.Fatalf("first in the room: %+v", ans.presence)
	}
	if p := a.presence(); presenceOf(p)[a.author] != `{"name":"A"}` || len(p.Clients) != 1 {
		t.Fatalf("own presence %+v", p)
	}

	b := ev.dial("")
	ans = b.joinWith(map[string]any{"doc": doc, "presence": map[string]any{"name": "B"}}, "")
	if got := presenceOf(ans.presence); len(got) != 1 || got[a.author] != `{"name":"A"}` {
		t.Fatalf("B's view of the room %+v", ans.presence)
	}
	b.presence() // its own
	if p := a.presence(); len(p.Clients) != 1 || presenceOf(p)[b.author] != `{"name":"B"}` || p.Left != nil {
		t.Fatalf("A sees B join: %+v", p)
	}

	// PRESENCE.SET: a change, announced to everyone in the room.
	a.send(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": map[string]any{"name": "A", "cursor": []int{1, 2}}})
	for _, c := range []*client{a, b} {
		if p := c.presence(); len(p.Clients) != 1 || presenceOf(p)[a.author] != `{"cursor":[1,2],"name":"A"}` && presenceOf(p)[a.author] != `{"name":"A","cursor":[1,2]}` {
			t.Fatalf("change %+v", p)
		}
	}
	// Setting the same state again announces nothing.
	a.send(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": map[string]any{"name": "A", "cursor": []int{1, 2}}})
	a.quiet()
	if got := ev.engine.Presence(doc); len(got) != 2 {
		t.Fatalf("engine presence %+v", got)
	}

	// LEAVE: announced as left, with an empty clients list.
	a.send(protocol.TypeLeave, map[string]any{"doc": doc})
	p := b.presence()
	if len(p.Left) != 1 || p.Left[0] != a.author || p.Clients == nil || len(p.Clients) != 0 {
		t.Fatalf("left %+v", p)
	}
	if got := ev.engine.Presence(doc); len(got) != 1 || got[0].ClientID != b.id {
		t.Fatalf("engine presence %+v", got)
	}
	// Presence needs the document joined.
	a.send(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": 1})
	a.expectError(protocol.CodeFailedPrecondition)
	a.quiet()
	b.quiet()
}

func TestPresenceCloseAnnouncesLeft(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "presence/close"
	b := ev.dial("")
	b.join(doc)
	for _, how := range []string{"close frame", "dropped TCP"} {
		a := ev.dial("")
		a.joinWith(map[string]any{"doc": doc, "presence": map[string]any{"how": how}}, "")
		if p := b.presence(); presenceOf(p)[a.author] == "" {
			t.Fatalf("%s: join %+v", how, p)
		}
		if how == "close frame" {
			a.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
		} else {
			a.ws.UnderlyingConn().Close()
		}
		if p := b.presence(); len(p.Left) != 1 || p.Left[0] != a.author || len(p.Clients) != 0 {
			t.Fatalf("%s: left %+v", how, p)
		}
	}
	if got := ev.engine.Presence(doc); len(got) != 0 {
		t.Fatalf("engine presence %+v", got)
	}
}

func TestPresenceHeartbeatExpiry(t *testing.T) {
	const interval, timeout = 50 * time.Millisecond, 400 * time.Millisecond
	ev := newEnv(t, syncd.Options{}, server.Options{HeartbeatInterval: interval, HeartbeatTimeout: timeout})
	const doc = "presence/heartbeat"
	b := ev.dial("")
	if b.hello.HeartbeatMs != interval.Milliseconds() || b.hello.Limits["heartbeatTimeoutMs"] != timeout.Milliseconds() {
		t.Fatalf("HELLO %+v", b.hello)
	}
	b.join(doc)

	// A client that never answers pings but sends HEARTBEAT (the seed's
	// keep-alive) or __heartbeat (ws-kit's) in time stays.
	k := ev.dial("")
	k.ws.SetPingHandler(func(string) error { return nil })
	k.join(doc)

	// A client that stops answering: no pongs, no messages.
	s := ev.dial("")
	s.ws.SetPingHandler(func(string) error { return nil })
	s.joinWith(map[string]any{"doc": doc, "presence": map[string]any{"name": "sleepy"}}, "")
	start := time.Now()

	// K keeps itself alive with messages, on a goroutine of its own.
	stopK := make(chan struct{})
	kDone := make(chan error, 1)
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopK:
				kDone <- nil
				return
			case <-tick.C:
			}
			msg := `{"type":"HEARTBEAT","meta":{"timestamp":1}}`
			if i%2 == 1 {
				msg = `{"type":"__heartbeat"}`
			}
			k.ws.SetWriteDeadline(time.Now().Add(readTimeout))
			if err := k.ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				kDone <- err
				return
			}
		}
	}()

	// B keeps reading, so it answers pings (gorilla does, while reading).
	if p := b.presence(); presenceOf(p)[s.author] == "" {
		t.Fatalf("join %+v", p)
	}
	p := b.presence()
	if len(p.Left) != 1 || p.Left[0] != s.author {
		t.Fatalf("want %s to have left: %+v", s.id, p)
	}
	// Between the timeout and the timeout plus a tick, the server gives
	// up on the client; it then waits up to the router's close timeout
	// (3 s) for a close handshake that a dead client never answers.
	if took := time.Since(start); took < timeout-interval || took > timeout+interval+3*time.Second+time.Second {
		t.Fatalf("removed after %v, want between %v and %v", took, timeout-interval, timeout+interval+4*time.Second)
	}
	if got := ev.engine.Presence(doc); len(got) != 0 {
		t.Fatalf("engine presence %+v", got)
	}
	if code := s.closeCode(); code != protocol.CloseHeartbeatTimeout || !protocol.ShouldReconnect(code) {
		t.Fatalf("stale client closed with %d, want %d", code, protocol.CloseHeartbeatTimeout)
	}
	// B, which sent nothing all that time but answered pings while it
	// read, is still connected; so is K, which sent keep-alives.
	b.alive()
	close(stopK)
	if err := <-kDone; err != nil {
		t.Fatalf("K's keep-alives: %v", err)
	}
	if _, ok := ev.server.Router().Conn(k.id); !ok {
		t.Fatal("K, which sent keep-alives, was dropped")
	}
	for _, m := range k.drain() { // its acks, and the presence of the others
		if m.Type != protocol.TypeHeartbeatAck && m.Type != protocol.TypePresence {
			t.Fatalf("K got %s", m)
		}
	}
	b.edit(doc, map[string]any{"still": "here"})
}

func TestSameClientIDReplacesConnection(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "presence/replace"
	b := ev.dial("")
	b.join(doc)
	id := newClientID()
	a1 := ev.dialID(id)
	a1.joinWith(map[string]any{"doc": doc, "presence": map[string]any{"tab": 1}}, "")
	b.presence()
	op := a1.edit(doc, map[string]any{"from": "a1"})
	b.ackFrom(id, op.ClientReqID)

	closed := a1.closeCodeAsync()
	a2 := ev.dialID(id) // its HELLO comes once the old connection is gone
	if code := receive(t, closed); code != protocol.CloseReplaced || protocol.ShouldReconnect(code) {
		t.Fatalf("old connection closed with %d, want %d (and not to reconnect)", code, protocol.CloseReplaced)
	}
	if p := b.presence(); len(p.Left) != 1 || p.Left[0] != protocol.AuthorID(id) {
		t.Fatalf("left %+v", p)
	}
	if n := ev.server.Router().Len(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
	a2.seq = a1.seq
	ans := a2.joinWith(map[string]any{"doc": doc, "presence": map[string]any{"tab": 2}}, "")
	if ans.snap == nil || ans.snap.AckedReqID != op.ClientReqID {
		t.Fatalf("the new connection inherits the watermark: %+v", ans.snap)
	}
	if p := b.presence(); presenceOf(p)[a2.author] != `{"tab":2}` {
		t.Fatalf("rejoined %+v", p)
	}
	op2 := a2.edit(doc, map[string]any{"from": "a2"})
	b.ackFrom(id, op2.ClientReqID)
	var st map[string]any
	json.Unmarshal(ev.snapshot(doc).State, &st)
	if st["from"] != "a2" {
		t.Fatalf("state %v", st)
	}
}
