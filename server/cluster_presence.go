package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"sort"
	"sync"
	"time"

	"github.com/deltasync/syncd"
)

// Presence across the cluster.
//
// Each instance announces its own clients' presence changes for a document
// on the document's presence subject, numbered: seq, from the instance's
// one change counter, and prev, the seq of its previous change in the same
// document. The instances with members of the document (connections that
// joined it) keep a mirror of every other instance's entries there and put
// them into the engine's room (SetRemotePresence), which is what their
// clients see: the full room after a JOIN's catch-up and every change
// after it.
//
// What repairs a mirror:
//
//   - a change whose prev is newer than the mirror's last seq from that
//     instance shows a missed message: the mirror asks that instance for
//     its full room in the document ("want"), which it answers ("full")
//     on the same subject, and asks again at its heartbeats until a full
//     room arrives;
//   - every BusHeartbeatInterval each instance sends a heartbeat listing
//     the documents where it holds presence with the seq of its last change
//     there (several parts when it holds many). A mirror behind a listed
//     seq asks for the full room; a mirror holding entries of a document
//     the heartbeat does not list, all older than the heartbeat, drops
//     them (their "left" was missed);
//   - an instance that starts showing a document's room (its first local
//     subscriber) asks every instance for its full room there, on a
//     subject all instances listen to, and each answers on the document's
//     subject, empty or not; the JOIN waits, at most BusRoomWait, for an
//     answer from every instance it has heard from, so that its answer
//     carries the merged room;
//   - an instance not heard from for BusPeerTimeout is dead: its entries
//     are dropped everywhere (detected within BusPeerTimeout +
//     BusHeartbeatInterval of its last heartbeat); a clean shutdown sends a
//     goodbye, which drops them at once.
//
// The interest in a document's room (acquire, release) is also what puts
// its room messages on the bus for this instance: the first interest
// subscribes to the document's room subject as well (cluster_rooms.go).
//
// Locks, in order: a document's stripe of locks
// (which serialises the engine calls of the document, so the engine's room
// follows the mirror in the mirror's order), then a localRoom's pub, then
// mu. Engine calls are made under the stripe only; bus publishes under
// pub only (Bus.Publish does not wait for the network).

type clusterPresence struct {
	c     *cluster
	seed  maphash.Seed
	locks [64]sync.Mutex // stripes of per-document locks (see lock)
	hbMu  sync.Mutex     // one heartbeat at a time, so its parts are not interleaved

	mu    sync.Mutex
	seq   uint64                // this instance's presence change counter
	round uint64                // this instance's heartbeat counter
	local map[string]*localRoom // document → this instance's clients' entries
	docs  map[string]*docRoom   // documents with members here → the others' entries
	peers map[string]*peer      // the other instances heard from
	// gone: the instances that said goodbye, when, for BusPeerTimeout.
	// Their messages sent before the goodbye may be handled after it
	// (another subject, another goroutine) and are ignored.
	gone map[string]time.Time
}

// localRoom is this instance's clients' entries in one document.
type localRoom struct {
	// pub is held while a change is numbered and sent, so that a
	// document's messages leave in the order of their seq.
	pub     sync.Mutex
	seq     uint64                     // of the last change; guarded by clusterPresence.mu
	entries map[string]json.RawMessage // client id → state; guarded by clusterPresence.mu
}

// docRoom is the mirror of one document's room on the other instances,
// kept while the document has members here, or a JOIN of it is answered.
// Guarded by clusterPresence.mu.
type docRoom struct {
	refs      int
	unsub     func() error           // of the presence subject
	unsubRoom func() error           // of the room-message subject
	remote    map[string]*remoteRoom // instance id → its entries
	changed   chan struct{}          // closed and replaced at each change of remote
}

// remoteRoom is one other instance's entries in one document.
type remoteRoom struct {
	seq     uint64
	entries map[string]json.RawMessage
	// gap: a change was missed (a prev newer than seq came); the room is
	// asked for whole until a full one arrives.
	gap      bool
	wantedAt time.Time // the last request for its full room
}

// Presence messages on a document's subject.
const (
	presenceSet  = "set"  // a client's new value
	presenceLeft = "left" // a client left
	presenceFull = "full" // an instance's whole room in the document
	presenceWant = "want" // a request for Target's full room (a repair)
)

type busPresence struct {
	From    string             `json:"from"`
	Kind    string             `json:"kind"`
	Seq     uint64             `json:"seq,omitempty"`
	Prev    uint64             `json:"prev,omitempty"`
	Target  string             `json:"target,omitempty"`
	Client  string             `json:"client,omitempty"`
	State   json.RawMessage    `json:"state,omitempty"`
	Clients []busPresenceEntry `json:"clients,omitempty"`
}

type busPresenceEntry struct {
	ClientID string          `json:"clientId"`
	State    json.RawMessage `json:"state"`
}

// busRoomRequest asks every instance for its full room in Doc.
type busRoomRequest struct {
	From string `json:"from"`
	Doc  string `json:"doc"`
}

// presenceOp is one change to make in the engine's room.
type presenceOp struct {
	client string
	state  json.RawMessage // nil: the entry leaves
}

func newClusterPresence(c *cluster) *clusterPresence {
	return &clusterPresence{
		c: c, seed: maphash.MakeSeed(),
		local: make(map[string]*localRoom),
		docs:  make(map[string]*docRoom),
		peers: make(map[string]*peer),
		gone:  make(map[string]time.Time),
	}
}

// lock returns doc's lock: one of a fixed set, so that no per-document
// lock has to be made and forgotten.
func (p *clusterPresence) lock(doc string) *sync.Mutex {
	return &p.locks[maphash.String(p.seed, doc)%uint64(len(p.locks))]
}

// --- this instance's clients

// localChange numbers and announces a change of this instance's client in
// doc: state nil is a departure (announced only if the client had an
// entry here).
func (p *clusterPresence) localChange(doc, clientID string, state json.RawMessage) {
	for {
		p.mu.Lock()
		lr := p.local[doc]
		if lr == nil {
			if state == nil {
				p.mu.Unlock()
				return
			}
			lr = &localRoom{entries: make(map[string]json.RawMessage)}
			p.local[doc] = lr
		}
		p.mu.Unlock()

		lr.pub.Lock()
		p.mu.Lock()
		if p.local[doc] != lr {
			// Emptied and forgotten meanwhile: start over.
			p.mu.Unlock()
			lr.pub.Unlock()
			continue
		}
		msg := busPresence{From: p.c.id, Client: clientID}
		if state == nil {
			if _, ok := lr.entries[clientID]; !ok {
				p.mu.Unlock()
				lr.pub.Unlock()
				return
			}
			delete(lr.entries, clientID)
			msg.Kind = presenceLeft
		} else {
			lr.entries[clientID] = state
			msg.Kind, msg.State = presenceSet, state
		}
		p.seq++
		msg.Seq, msg.Prev = p.seq, lr.seq
		lr.seq = p.seq
		p.mu.Unlock()
		p.c.publish(kindPresence, presenceSubject(doc), msg, false)
		if state == nil {
			// An emptied room is forgotten only once its last message
			// is sent, under its pub lock: a change that makes a new room
			// for doc meanwhile would find this one and wait, so the
			// document's messages still leave in the order of their seq
			// (a newer seq sent first makes the mirrors ignore the older
			// one, here the departure, for good).
			p.mu.Lock()
			if p.local[doc] == lr && len(lr.entries) == 0 {
				delete(p.local, doc)
			}
			p.mu.Unlock()
		}
		lr.pub.Unlock()
		if state == nil {
			// The client's entry may have hidden the same client's entry
			// from another instance (it moved there): show that one now.
			p.restore(doc, clientID)
		}
		return
	}
}

// sendFull announces this instance's whole room in doc, empty or not.
func (p *clusterPresence) sendFull(doc string) {
	for {
		p.mu.Lock()
		lr := p.local[doc]
		if lr == nil {
			// The room is empty as of this change counter: every earlier
			// entry of doc from here is gone.
			seq := p.seq
			p.mu.Unlock()
			p.c.publish(kindPresence, presenceSubject(doc), busPresence{From: p.c.id, Kind: presenceFull, Seq: seq}, false)
			return
		}
		p.mu.Unlock()
		lr.pub.Lock()
		p.mu.Lock()
		if p.local[doc] != lr {
			// Emptied and forgotten meanwhile, and maybe made again:
			// "empty as of now" could hide a newer room's entries.
			p.mu.Unlock()
			lr.pub.Unlock()
			continue
		}
		msg := busPresence{From: p.c.id, Kind: presenceFull, Seq: lr.seq}
		msg.Clients = make([]busPresenceEntry, 0, len(lr.entries))
		for id, st := range lr.entries {
			msg.Clients = append(msg.Clients, busPresenceEntry{ClientID: id, State: st})
		}
		p.mu.Unlock()
		sort.Slice(msg.Clients, func(i, j int) bool { return msg.Clients[i].ClientID < msg.Clients[j].ClientID })
		p.c.publish(kindPresence, presenceSubject(doc), msg, false)
		lr.pub.Unlock()
		return
	}
}

// --- the rooms of documents with members here

// acquire starts or continues this instance's interest in doc's room: the
// first one subscribes to the document's presence and room-message
// subjects and asks the other instances for their rooms, and reports
// first. The subscriptions are in place when it returns (Bus.Subscribe
// waits for the transport), so a JOIN answered after it misses nothing
// published later.
func (p *clusterPresence) acquire(doc string) (first bool) {
	l := p.lock(doc)
	l.Lock()
	defer l.Unlock()
	p.mu.Lock()
	if dr := p.docs[doc]; dr != nil {
		dr.refs++
		p.mu.Unlock()
		return false
	}
	dr := &docRoom{refs: 1, remote: make(map[string]*remoteRoom), changed: make(chan struct{})}
	p.docs[doc] = dr
	p.mu.Unlock()
	// Without the bus this instance shows its own clients and their
	// messages only, until a later first JOIN subscribes again.
	unsubRoom, err := p.c.bus.Subscribe(docRoomSubject(doc), func(data []byte) { p.c.docRoomFromBus(doc, data) })
	if err != nil {
		p.c.log.Warn("cluster bus: room subscription", "doc", doc, "err", err)
	}
	unsub, err := p.c.bus.Subscribe(presenceSubject(doc), func(data []byte) { p.onPresence(doc, dr, data) })
	if err != nil {
		p.c.log.Warn("cluster bus: presence subscription", "doc", doc, "err", err)
	}
	p.mu.Lock()
	dr.unsub, dr.unsubRoom = unsub, unsubRoom
	p.mu.Unlock()
	if unsub != nil {
		p.c.publish(kindPresence, subjectRoomRequest, busRoomRequest{From: p.c.id, Doc: doc}, false)
	}
	return true
}

// onRoomRequest answers another instance's request for this instance's
// room in a document, even empty: the requester waits for every instance.
func (p *clusterPresence) onRoomRequest(data []byte) {
	var req busRoomRequest
	if !p.c.receive(kindPresence, data, &req, &req.From) || req.Doc == "" {
		return
	}
	p.sendFull(req.Doc)
}

// release ends one interest in doc's room; the last one unsubscribes from
// its subjects and takes the other instances' entries out of the engine's
// room.
func (p *clusterPresence) release(doc string) {
	l := p.lock(doc)
	l.Lock()
	defer l.Unlock()
	p.mu.Lock()
	dr := p.docs[doc]
	if dr == nil {
		p.mu.Unlock()
		return
	}
	if dr.refs--; dr.refs > 0 {
		p.mu.Unlock()
		return
	}
	delete(p.docs, doc)
	peers := make([]string, 0, len(dr.remote))
	for id := range dr.remote {
		peers = append(peers, id)
	}
	unsubs := []func() error{dr.unsub, dr.unsubRoom}
	p.mu.Unlock()
	for _, unsub := range unsubs {
		if unsub != nil {
			unsub()
		}
	}
	for _, id := range peers {
		p.c.engine().ClearRemotePresence(doc, id, "")
	}
}

// unsubscribeAll forgets every document's room and returns their
// subscriptions' unsubscribes, for the instance's close.
func (p *clusterPresence) unsubscribeAll() []func() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var unsubs []func() error
	for doc, dr := range p.docs {
		for _, unsub := range []func() error{dr.unsub, dr.unsubRoom} {
			if unsub != nil {
				unsubs = append(unsubs, unsub)
			}
		}
		delete(p.docs, doc)
	}
	return unsubs
}

// enter prepares doc's room for a JOIN: it takes an interest in the room.
// If the room is new here (no other interest), it waits (at most
// BusRoomWait) until the mirror has heard from every instance this one
// knows, and is not behind what their heartbeats list, and puts the mirror
// into the engine's room, loading the document. The returned function,
// called once the JOIN is answered, puts the mirror into the room once
// more (the JOIN may have created the document only now) and, unless keep
// (the JOIN made a new membership, which keeps the interest until it ends:
// release), ends the interest. A room already shown here is kept current
// as it is: the JOIN neither waits nor does anything more.
func (p *clusterPresence) enter(ctx context.Context, doc string) (done func(keep bool)) {
	if !p.acquire(doc) {
		return func(keep bool) {
			if !keep {
				p.release(doc)
			}
		}
	}
	timer := time.NewTimer(p.c.roomWait)
	defer timer.Stop()
	for waiting := true; waiting; {
		p.mu.Lock()
		dr := p.docs[doc]
		if dr == nil { // the instance is closing
			p.mu.Unlock()
			break
		}
		behind := false
		for id, pr := range p.peers {
			r := dr.remote[id]
			if seq, listed := pr.docs[doc]; r == nil || r.gap || (listed && r.seq < seq) {
				behind = true
				break
			}
		}
		changed := dr.changed
		p.mu.Unlock()
		if !behind {
			break
		}
		select {
		case <-changed:
		case <-timer.C:
			waiting = false
		case <-ctx.Done():
			waiting = false
		}
	}
	p.showMirror(ctx, doc, "")
	return func(keep bool) {
		p.showMirror(ctx, doc, "")
		if !keep {
			p.release(doc)
		}
	}
}

// showMirror puts the mirror's entries of doc (clientID's only, if not
// "") into the engine's room. Entries already there are left alone.
func (p *clusterPresence) showMirror(ctx context.Context, doc, clientID string) {
	l := p.lock(doc)
	l.Lock()
	defer l.Unlock()
	type entry struct {
		origin, client string
		state          json.RawMessage
	}
	var entries []entry
	p.mu.Lock()
	if dr := p.docs[doc]; dr != nil {
		for origin, r := range dr.remote {
			for id, st := range r.entries {
				if clientID == "" || id == clientID {
					entries = append(entries, entry{origin, id, st})
				}
			}
		}
	}
	p.mu.Unlock()
	for _, e := range entries {
		p.setEngine(ctx, doc, e.origin, e.client, e.state)
	}
}

// restore shows the other instances' entry of clientID in doc, if any,
// after this instance's own entry of the client left.
func (p *clusterPresence) restore(doc, clientID string) {
	p.showMirror(context.Background(), doc, clientID)
}

// setEngine puts one remote entry into the engine's room. The document's
// lock must be held.
func (p *clusterPresence) setEngine(ctx context.Context, doc, origin, clientID string, state json.RawMessage) {
	err := p.c.engine().SetRemotePresence(ctx, doc, origin, clientID, state)
	switch {
	case err == nil:
	case errors.Is(err, syncd.ErrRoomFull):
		p.c.m.roomFull.Inc()
	default:
		p.c.log.Debug("cluster bus: remote presence", "doc", doc, "origin", origin, "err", err)
	}
}

// apply makes ops, from origin, in the engine's room. The document's lock
// must be held.
func (p *clusterPresence) apply(doc, origin string, ops []presenceOp) {
	for _, op := range ops {
		if op.state == nil {
			p.c.engine().ClearRemotePresence(doc, origin, op.client)
		} else {
			p.setEngine(context.Background(), doc, origin, op.client, op.state)
		}
	}
}

// onPresence handles a message on doc's presence subject, for the interest
// dr (a message for an interest that has ended is ignored).
func (p *clusterPresence) onPresence(doc string, dr *docRoom, data []byte) {
	var msg busPresence
	if !p.c.receive(kindPresence, data, &msg, &msg.From) {
		return
	}
	now := time.Now()
	l := p.lock(doc)
	l.Lock()
	p.mu.Lock()
	if _, gone := p.gone[msg.From]; gone || p.docs[doc] != dr {
		p.mu.Unlock()
		l.Unlock()
		return
	}
	p.seenLocked(msg.From, now)
	var ops []presenceOp
	var want, answer bool
	switch msg.Kind {
	case presenceSet, presenceLeft:
		r := dr.roomLocked(msg.From)
		if msg.Seq <= r.seq {
			break // older than what the mirror has
		}
		if msg.Prev > r.seq {
			r.gap = true
		}
		want = r.gap && p.wantDueLocked(r, now)
		r.seq = msg.Seq
		if msg.Kind == presenceSet {
			if old, ok := r.entries[msg.Client]; !ok || !bytes.Equal(old, msg.State) {
				r.entries[msg.Client] = msg.State
				ops = append(ops, presenceOp{msg.Client, msg.State})
			}
		} else if _, ok := r.entries[msg.Client]; ok {
			delete(r.entries, msg.Client)
			ops = append(ops, presenceOp{client: msg.Client})
		}
		dr.changedLocked()
	case presenceFull:
		r := dr.roomLocked(msg.From)
		if msg.Seq < r.seq {
			break
		}
		r.seq, r.gap = msg.Seq, false
		next := make(map[string]json.RawMessage, len(msg.Clients))
		for _, e := range msg.Clients {
			next[e.ClientID] = e.State
			if old, ok := r.entries[e.ClientID]; !ok || !bytes.Equal(old, e.State) {
				ops = append(ops, presenceOp{e.ClientID, e.State})
			}
		}
		for id := range r.entries {
			if _, ok := next[id]; !ok {
				ops = append(ops, presenceOp{client: id})
			}
		}
		r.entries = next
		dr.changedLocked()
	case presenceWant:
		answer = msg.Target == p.c.id
	}
	var gone []string
	for _, op := range ops {
		if op.state == nil {
			gone = append(gone, op.client)
		}
	}
	others := dr.othersLocked(msg.From, gone)
	p.mu.Unlock()
	p.apply(doc, msg.From, ops)
	p.showOthers(doc, others)
	l.Unlock()
	if want {
		p.want(doc, msg.From)
	}
	if answer {
		p.sendFull(doc)
	}
}

// remoteEntry is one entry of the mirror, with its origin.
type remoteEntry struct {
	origin, client string
	state          json.RawMessage
}

// othersLocked returns the mirror's entries of clients from instances
// other than origin: what the engine's room should show of them once
// origin's entries are gone (a client that moved from origin to another
// instance, whose entry origin's announcement had taken over).
// clusterPresence.mu must be held.
func (dr *docRoom) othersLocked(origin string, clients []string) []remoteEntry {
	var out []remoteEntry
	for _, client := range clients {
		for o, r := range dr.remote {
			if st, ok := r.entries[client]; ok && o != origin {
				out = append(out, remoteEntry{o, client, st})
			}
		}
	}
	return out
}

// showOthers puts entries back into the engine's room. The document's
// lock must be held.
func (p *clusterPresence) showOthers(doc string, entries []remoteEntry) {
	for _, e := range entries {
		p.setEngine(context.Background(), doc, e.origin, e.client, e.state)
	}
}

// want asks the instance target for its full room in doc.
func (p *clusterPresence) want(doc, target string) {
	p.c.publish(kindPresence, presenceSubject(doc), busPresence{From: p.c.id, Kind: presenceWant, Target: target}, false)
}

// wantDueLocked reports whether the full room of r's instance may be
// asked for now (at most once per heartbeat interval), and notes it. p.mu
// must be held.
func (p *clusterPresence) wantDueLocked(r *remoteRoom, now time.Time) bool {
	if now.Sub(r.wantedAt) < p.c.interval {
		return false
	}
	r.wantedAt = now
	return true
}

// roomLocked returns the mirror of instance id's entries, made if needed.
// clusterPresence.mu must be held.
func (dr *docRoom) roomLocked(id string) *remoteRoom {
	r := dr.remote[id]
	if r == nil {
		r = &remoteRoom{entries: make(map[string]json.RawMessage)}
		dr.remote[id] = r
	}
	return r
}

// changedLocked wakes the JOINs waiting for the mirror. clusterPresence.mu
// must be held.
func (dr *docRoom) changedLocked() {
	close(dr.changed)
	dr.changed = make(chan struct{})
}
