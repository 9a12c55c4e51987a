package server

import (
	"sync"

	"golang.org/x/time/rate"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/router"
)

// userTopicPrefix puts the application's topics (SUBSCRIBE, PUBLISH to a
// topic) in a namespace of the router's broker. A document's room is not
// a router topic: its messages reach the document's subscribers through
// the engine (Engine.PublishRoom), the same way as its operations.
const userTopicPrefix = "topic:"

// session is the sync service's state for one connection. It is created by
// the authentication hook (as the connection's data) and finished by the
// close hook.
type session struct {
	srv  *Server
	user *User // nil without authentication
	conn *router.Conn
	// updates is the UPDATE rate limit, made by the first UPDATE (most
	// connections only read). Owned by the reader goroutine.
	updates *rate.Limiter
	// creations is the document-creation rate limit (doccreation.go),
	// made by the first JOIN that creates a document. Owned by the reader
	// goroutine.
	creations *rate.Limiter
	// presenceRate is the presence byte rate (roomlimits.go), made by the
	// first presence value. Owned by the reader goroutine.
	presenceRate *rate.Limiter

	mu sync.Mutex // guards one, docs, closed and user (written by AUTH.REFRESH)
	// The joined documents, by id: the connection's one registration in
	// each document it joined. Through it (its subscription's sink,
	// joined.deliver) the document's operations, presence and room
	// messages reach the connection; JOIN adds it and endMembership is
	// the only way it ends. A re-join or a resync replaces the record,
	// not the membership. The common case, one document, is kept in one;
	// docs is made only for the others.
	one    *joined
	docs   map[string]*joined
	closed bool
	// auth is the token's expiry timer (authrefresh.go); guarded by mu.
	auth authState
	// resyncs counts goroutines re-joining documents after EventResync;
	// the close hook waits for them.
	resyncs sync.WaitGroup
}

// joined is one document a connection has joined, and its subscription's
// sink (deliver).
type joined struct {
	s   *session
	doc string
	sub *syncd.Subscription

	// Owned by the sink (the engine serialises its calls).
	//
	// pos is the position of the last event delivered; the resync that
	// an EventResync starts reads it, from the same sink.
	pos revision.Position
	// The catch-up, the subscription's first event: x is the JOIN
	// being answered (nil for a resync, whose catch-up is sent as plain
	// messages), dropped once the catch-up is sent.
	catchingUp bool
	x          *router.Ctx
}

func sessionOf(x *router.Ctx) *session { return x.Conn().Data().(*session) }

// joinedDoc returns the joined document, or nil.
func (s *session) joinedDoc(doc string) *joined {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.docLocked(doc)
}

// docLocked returns the joined document, or nil. s.mu must be held.
func (s *session) docLocked(doc string) *joined {
	if s.one != nil && s.one.doc == doc {
		return s.one
	}
	return s.docs[doc]
}

// setDocLocked records j as its document's subscription. s.mu must be
// held.
func (s *session) setDocLocked(j *joined) {
	if (s.one == nil && s.docs[j.doc] == nil) || (s.one != nil && s.one.doc == j.doc) {
		s.one = j
		return
	}
	if s.docs == nil {
		s.docs = make(map[string]*joined)
	}
	s.docs[j.doc] = j
}

// deleteDocLocked forgets doc. s.mu must be held.
func (s *session) deleteDocLocked(doc string) {
	if s.one != nil && s.one.doc == doc {
		s.one = nil
		return
	}
	delete(s.docs, doc)
}

// countDocsLocked returns how many documents are joined. s.mu must be
// held.
func (s *session) countDocsLocked() int {
	n := len(s.docs)
	if s.one != nil {
		n++
	}
	return n
}

// updateLimiter returns the UPDATE rate limit, made on first use. Only
// the reader goroutine calls it.
func (s *session) updateLimiter() *rate.Limiter {
	if s.updates == nil {
		l := s.srv.opts.Limits
		s.updates = rate.NewLimiter(rate.Limit(l.UpdatesPerSecond), l.UpdateBurst)
	}
	return s.updates
}

// newJoined returns the record of a subscription to doc. x is the JOIN
// being answered (nil for a resync, whose catch-up is sent as plain
// messages): the catch-up's last message is the JOIN's terminal reply, so
// an RPC JOIN gets its correlationId back on it. Its deliver method is the
// subscription's sink.
func (s *session) newJoined(x *router.Ctx, doc string) *joined {
	return &joined{s: s, doc: doc, x: x, catchingUp: true}
}

// reply sends a catch-up's terminal message: the JOIN's reply, or a plain
// message for a resync.
func (j *joined) reply(typ string, payload any) {
	if j.x != nil {
		j.x.Reply(typ, payload)
	} else {
		j.s.conn.Send(typ, payload)
	}
	j.s.srv.opts.Metrics.out(typ)
}

// endCatchUp marks the catch-up delivered and lets go of the JOIN, which
// an idle connection would otherwise keep (with its message) for as long
// as it stays joined.
func (j *joined) endCatchUp() {
	j.catchingUp = false
	j.x = nil
}

// deliver is j's subscription sink. The engine delivers a catch-up whole,
// as one event (its size bounded by the document's), so that the answer to
// a JOIN is one message.
func (j *joined) deliver(ev *syncd.Event) {
	s := j.s
	switch ev.Kind {
	case syncd.EventDeltas:
		j.pos = revision.Position{Epoch: ev.Epoch, Rev: ev.ToRev}
		if !j.catchingUp {
			s.sendShared(ev)
			return
		}
		defer j.endCatchUp()
		d := deltasPayload(ev)
		if j.x == nil {
			// A resync answers no JOIN: the client gets what it missed
			// as live deltas, never empty and without the watermark.
			if len(d.Operations) == 0 {
				return
			}
			d.AckedReqID, d.Outcomes = "", nil
		}
		j.reply(protocol.TypeSyncDeltas, d)
	case syncd.EventSnapshot:
		j.pos = revision.Position{Epoch: ev.Epoch, Rev: ev.Rev}
		if !j.catchingUp {
			s.sendShared(ev) // a reset: the document was deleted
			return
		}
		defer j.endCatchUp()
		if ev.Gap != nil {
			s.conn.Send(protocol.TypeRevisionGap, gapPayload(ev))
			s.srv.opts.Metrics.out(protocol.TypeRevisionGap)
		}
		snap := snapshotPayload(ev)
		if j.x == nil {
			snap.AckedReqID, snap.Outcomes = "", nil // a resync answers no JOIN
		}
		j.reply(protocol.TypeSyncSnapshot, snap)
	case syncd.EventPresence:
		s.sendShared(ev)
	case syncd.EventMessage:
		// A room message: the publisher encoded it once, as a droppable
		// frame (handlePublish, clusterRooms), so a connection past its
		// RoomQueueBytes misses it rather than be closed for it.
		if f, ok := ev.Message.(*router.Frame); ok && s.conn.SendFrame(f) == nil {
			s.srv.opts.Metrics.outMessage.Inc()
		}
	case syncd.EventResync:
		s.resync(j, j.pos)
	}
}

// sendShared sends an event shared by every subscriber of a document: it
// is encoded once, by the first subscriber to get it, and the same bytes are
// queued on every connection.
func (s *session) sendShared(ev *syncd.Event) {
	frames, _ := ev.Memo(encodeShared).([]*router.Frame)
	for _, f := range frames {
		s.conn.SendFrame(f)
	}
	if len(frames) > 0 {
		s.srv.opts.Metrics.outEvent(ev)
	}
}

// encodeShared encodes a live event for the wire (wire.go has the
// payloads).
func encodeShared(ev *syncd.Event) any {
	var frames []*router.Frame
	add := func(typ string, payload any) {
		if f, err := router.NewFrame(typ, payload); err == nil {
			frames = append(frames, f)
		}
	}
	switch ev.Kind {
	case syncd.EventDeltas:
		add(protocol.TypeSyncDeltas, deltasPayload(ev))
	case syncd.EventSnapshot:
		if ev.Gap != nil {
			add(protocol.TypeRevisionGap, gapPayload(ev))
		}
		add(protocol.TypeSyncSnapshot, snapshotPayload(ev))
	case syncd.EventPresence:
		add(protocol.TypePresence, presencePayload(ev))
	}
	return frames
}

// resync re-joins j's document after the engine dropped its subscription
// (a store failure reloaded the document): the client is consistent up to
// pos, so a new subscription from pos sends what it missed. It runs on a
// goroutine of its own, because a sink must not call the engine.
func (s *session) resync(j *joined, pos revision.Position) {
	s.mu.Lock()
	if s.closed || s.docLocked(j.doc) != j {
		s.mu.Unlock()
		return
	}
	s.resyncs.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.resyncs.Done()
		nj := s.newJoined(nil, j.doc)
		sub, err := s.srv.engine.Subscribe(s.conn.Context(), j.doc, syncd.SubscribeRequest{ClientID: s.conn.ClientID(), Have: pos}, nj.deliver)
		if err != nil {
			// The client reconnects and resumes on its own.
			s.conn.Close(protocol.CloseTryAgainLater, "could not resync "+j.doc)
			return
		}
		nj.sub = sub
		s.mu.Lock()
		if s.closed || s.docLocked(j.doc) != j {
			s.mu.Unlock()
			sub.Close()
			return
		}
		s.setDocLocked(nj)
		s.mu.Unlock()
	}()
}

// close ends every membership of the session.
func (s *session) close() {
	s.mu.Lock()
	s.closed = true
	docs := s.joinedLocked()
	s.one, s.docs = nil, nil
	s.mu.Unlock()
	s.resyncs.Wait()
	for _, j := range docs {
		s.endMembership(j)
	}
}

// endMembership ends the connection's membership of j's document, which
// the caller has taken out of the session: its subscription, its client's
// presence in the room, and its share of the cluster's interest in the
// room. LEAVE, a re-join that failed, a document a refreshed token no
// longer allows, and the connection's end all come here, so that leaving
// undoes exactly what JOIN did.
func (s *session) endMembership(j *joined) {
	if j.sub != nil {
		j.sub.Close()
	}
	s.srv.clearPresence(j.doc, s.conn.ClientID())
	s.srv.cluster.roomLeft(j.doc)
}
