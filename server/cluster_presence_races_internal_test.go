package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/memstore"
)

// gatedBus records what is published, after calling hook (which may block
// the publisher, to hold an interleaving in place).
type gatedBus struct {
	recordingBus
	hookMu sync.Mutex
	hook   func(subject string, data []byte)
}

func (b *gatedBus) Publish(subject string, data []byte) error {
	b.hookMu.Lock()
	h := b.hook
	b.hookMu.Unlock()
	if h != nil {
		h(subject, data)
	}
	return b.recordingBus.Publish(subject, data)
}

func (b *gatedBus) setHook(h func(subject string, data []byte)) {
	b.hookMu.Lock()
	b.hook = h
	b.hookMu.Unlock()
}

func quietOptions(bus Bus) Options {
	o := Options{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := o.withBusDefaults(); err != nil {
		panic(err)
	}
	return o
}

// A full room announced while the document's local room is emptied and
// made again (its last client left, a new one set its presence) must not
// say "empty" as of a change counter that already covers the new client's
// entry: the mirrors would drop that entry, and no heartbeat repairs it
// (the heartbeat's seq for the document is not newer than the full
// room's).
func TestClusterSendFullRacingRoomRecreation(t *testing.T) {
	bus := &gatedBus{recordingBus: recordingBus{id: "A"}}
	c, err := newCluster(&Server{}, quietOptions(bus))
	if err != nil {
		t.Fatal(err)
	}
	p := c.presence
	const doc = "race/full"
	p.localChange(doc, "c1", json.RawMessage(`1`))

	// G0 holds the room's pub lock, stuck in its publish.
	release0, reached0 := make(chan struct{}), make(chan struct{})
	release2, reached2 := make(chan struct{}), make(chan struct{})
	bus.setHook(func(subject string, data []byte) {
		s := string(data)
		switch {
		case strings.Contains(s, `"kind":"set"`) && strings.Contains(s, `"client":"c1"`) && strings.Contains(s, `"state":2`):
			close(reached0)
			<-release0
		case strings.Contains(s, `"kind":"left"`):
			close(reached2)
			<-release2
		}
	})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); p.localChange(doc, "c1", json.RawMessage(`2`)) }()
	<-reached0
	// G2: the last client leaves (queued first on the pub lock).
	go func() { defer wg.Done(); p.localChange(doc, "c1", nil) }()
	time.Sleep(50 * time.Millisecond)
	// G1: another instance asked for the full room (queued second).
	go func() { defer wg.Done(); p.sendFull(doc) }()
	time.Sleep(50 * time.Millisecond)
	close(release0)
	select {
	case <-reached2:
	case <-time.After(5 * time.Second):
		t.Fatal("the departure was not published")
	}
	// While the departure is being sent, a new client sets its presence:
	// a new local room.
	wg.Add(1)
	go func() { defer wg.Done(); p.localChange(doc, "c2", json.RawMessage(`3`)) }()
	time.Sleep(50 * time.Millisecond)
	close(release2)
	wg.Wait()
	bus.setHook(nil)
	p.sendHeartbeat()

	// What instance X makes of A's messages, in the order A sent them,
	// its heartbeat last: c2 alone, or a request for A's full room.
	x, e, dr := remoteTestCluster(t, doc)
	for _, m := range bus.out {
		switch {
		case strings.HasPrefix(m.subject, subjectPresencePrefix):
			x.presence.onPresence(doc, dr, m.data)
		case m.subject == subjectHeartbeat:
			x.presence.onHeartbeat(m.data)
		}
	}
	xbus := x.bus.(*recordingBus)
	asked := false
	for _, m := range xbus.out {
		asked = asked || strings.Contains(string(m.data), `"kind":"want"`)
	}
	if got := roomOf(e, doc); !asked && (len(got) != 1 || got["c2"] != "3") {
		t.Errorf("X shows A's room as %v, want only c2, and does not ask for it again", got)
	}

	var setSeq uint64
	var fulls []busPresence
	for _, m := range bus.out {
		if !strings.HasPrefix(m.subject, subjectPresencePrefix) {
			continue
		}
		var msg busPresence
		if err := json.Unmarshal(m.data, &msg); err != nil {
			t.Fatal(err)
		}
		switch {
		case msg.Kind == presenceSet && msg.Client == "c2":
			setSeq = msg.Seq
		case msg.Kind == presenceFull:
			fulls = append(fulls, msg)
		}
	}
	if setSeq == 0 || len(fulls) != 1 {
		t.Fatalf("set of c2 at %d, %d full rooms", setSeq, len(fulls))
	}
	full := fulls[0]
	has := false
	for _, e := range full.Clients {
		has = has || e.ClientID == "c2"
	}
	if full.Seq >= setSeq && !has {
		t.Fatalf("full room %+v at seq %d without c2, whose set was seq %d (and is still here): a mirror drops c2 for good", full.Clients, full.Seq, setSeq)
	}
}

// remoteTestCluster is a cluster instance "X" whose engine holds doc, with
// an interest in doc's room.
func remoteTestCluster(t *testing.T, doc string) (*cluster, *syncd.Engine, *docRoom) {
	t.Helper()
	st := memstore.New(memstore.Options{})
	e, err := syncd.Open(st, syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); st.Close() })
	if _, err := e.Commit(context.Background(), doc, syncd.Edit{Patch: json.RawMessage(`{"x":1}`)}); err != nil {
		t.Fatal(err)
	}
	c, err := newCluster(&Server{engine: e}, quietOptions(&recordingBus{id: "X"}))
	if err != nil {
		t.Fatal(err)
	}
	c.presence.acquire(doc)
	c.presence.mu.Lock()
	dr := c.presence.docs[doc]
	c.presence.mu.Unlock()
	return c, e, dr
}

func feed(t *testing.T, c *cluster, doc string, dr *docRoom, msg busPresence) {
	t.Helper()
	b, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	c.presence.onPresence(doc, dr, b)
}

func roomOf(e *syncd.Engine, doc string) map[string]string {
	out := map[string]string{}
	for _, pe := range e.Presence(doc) {
		out[pe.ClientID] = string(pe.State)
	}
	return out
}

// A client moved from instance A to B. Instance X hears B's entry, then
// (the two publishers are not ordered on the bus) A's older announcement
// of the client (a set, or its full room), then A's departure of it. The
// client is still in the room, on B, and X's mirror of B says so: X must
// still show it.
func TestClusterRemoteDepartureKeepsOtherInstanceEntry(t *testing.T) {
	const doc = "moved/client"
	for _, how := range []string{"left", "dead"} {
		t.Run(how, func(t *testing.T) {
			c, e, dr := remoteTestCluster(t, doc)
			feed(t, c, doc, dr, busPresence{From: "B", Kind: presenceSet, Seq: 1, Client: "c", State: json.RawMessage(`"on-b"`)})
			feed(t, c, doc, dr, busPresence{From: "A", Kind: presenceFull, Seq: 5, Clients: []busPresenceEntry{{ClientID: "c", State: json.RawMessage(`"on-a"`)}}})
			if how == "left" {
				feed(t, c, doc, dr, busPresence{From: "A", Kind: presenceLeft, Seq: 6, Prev: 5, Client: "c"})
			} else {
				c.presence.dropPeer("A", true)
			}
			if got := roomOf(e, doc); got["c"] != `"on-b"` {
				t.Fatalf("room %v: the client, live on B (X's mirror of B holds it), is gone", got)
			}
		})
	}
}

// The last client of a document on instance A leaves while another client
// of A sets its presence there: A's departure and the new entry leave in
// the order of their seq, or the mirrors keep the departed client for good
// (a departure older than the mirror's seq is ignored, and the heartbeat's
// seq for the document is not newer than the mirror's).
func TestClusterDepartureRacingNewLocalRoom(t *testing.T) {
	bus := &gatedBus{recordingBus: recordingBus{id: "A"}}
	c, err := newCluster(&Server{}, quietOptions(bus))
	if err != nil {
		t.Fatal(err)
	}
	p := c.presence
	const doc = "race/left"
	p.localChange(doc, "c1", json.RawMessage(`1`))
	release, reached := make(chan struct{}), make(chan struct{})
	bus.setHook(func(subject string, data []byte) {
		if strings.Contains(string(data), `"kind":"left"`) {
			close(reached)
			<-release
		}
	})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.localChange(doc, "c1", nil) }()
	<-reached
	go func() { defer wg.Done(); p.localChange(doc, "c2", json.RawMessage(`2`)) }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	bus.setHook(nil)
	p.sendHeartbeat()

	x, e, dr := remoteTestCluster(t, doc)
	for _, m := range bus.out {
		switch {
		case strings.HasPrefix(m.subject, subjectPresencePrefix):
			x.presence.onPresence(doc, dr, m.data)
		case m.subject == subjectHeartbeat:
			x.presence.onHeartbeat(m.data)
		}
	}
	asked := false
	for _, m := range x.bus.(*recordingBus).out {
		asked = asked || strings.Contains(string(m.data), `"kind":"want"`)
	}
	if got := roomOf(e, doc); !asked && (len(got) != 1 || got["c2"] != "2") {
		t.Fatalf("X shows A's room as %v, want only c2, and does not ask for it again", got)
	}
}

// An instance's goodbye and its last presence change travel on different
// subjects, whose handlers run on different goroutines: the change may be
// handled after the goodbye. It must not bring the departed instance's
// client back (nor the instance, which sends no more heartbeats), where it
// would stay for BusPeerTimeout and more instead of going "at once".
func TestClusterPresenceAfterGoodbyeIgnored(t *testing.T) {
	const doc = "bye/late"
	c, e, dr := remoteTestCluster(t, doc)
	feed(t, c, doc, dr, busPresence{From: "A", Kind: presenceSet, Seq: 1, Client: "c", State: json.RawMessage(`1`)})
	bye, _ := json.Marshal(busHeartbeat{From: "A", Bye: true})
	c.presence.onHeartbeat(bye)
	if got := roomOf(e, doc); len(got) != 0 {
		t.Fatalf("room after goodbye %v", got)
	}
	// Sent before the goodbye, handled after it.
	feed(t, c, doc, dr, busPresence{From: "A", Kind: presenceSet, Seq: 2, Prev: 1, Client: "c", State: json.RawMessage(`2`)})
	c.presence.mu.Lock()
	_, known := c.presence.peers["A"]
	c.presence.mu.Unlock()
	if got := roomOf(e, doc); len(got) != 0 || known {
		t.Fatalf("after a late change of a departed instance: room %v, instance known again: %v", got, known)
	}
}
