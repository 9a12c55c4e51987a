package server

import (
	"sync"

	"golang.org/x/time/rate"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/router"
)

// Router topics: a document's room and the application's own topics live in
// separate namespaces of the router's broker.
const (
	docTopicPrefix  = "doc:"
	userTopicPrefix = "topic:"
)

// session is the sync service's state for one connection. It is created by
// the authentication hook (as the connection's data) and finished by the
// close hook.
type session struct {
	srv     *Server
	user    *User // nil without authentication
	conn    *router.Conn
	updates *rate.Limiter

	mu     sync.Mutex // guards docs and closed
	docs   map[string]*joined
	closed bool
	// resyncs counts goroutines re-joining documents after EventResync;
	// the close hook waits for them.
	resyncs sync.WaitGroup
}

// joined is one document a connection has joined.
type joined struct {
	doc string
	sub *syncd.Subscription
	// pos is the position of the last event delivered, written by the
	// subscription's sink (the engine serialises those calls) and read
	// by the resync that an EventResync starts, from the same sink.
	pos revision.Position
}

func sessionOf(x *router.Ctx) *session { return x.Conn().Data().(*session) }

// joinedDoc returns the joined document, or nil.
func (s *session) joinedDoc(doc string) *joined {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.docs[doc]
}

// sink returns the subscription sink of j. x is the JOIN being answered
// (nil for a resync, whose catch-up is sent as plain messages): the
// catch-up's last message is the JOIN's terminal reply, so an RPC JOIN gets
// its correlationId back on it.
func (s *session) sink(x *router.Ctx, j *joined) syncd.Sink {
	var (
		catchingUp = true
		ops        []protocol.Operation
		from       revision.Rev
	)
	reply := func(typ string, payload any) {
		if x != nil {
			x.Reply(typ, payload)
		} else {
			s.conn.Send(typ, payload)
		}
		s.srv.opts.Metrics.out(typ)
	}
	return func(ev *syncd.Event) {
		switch ev.Kind {
		case syncd.EventDeltas:
			j.pos = revision.Position{Epoch: ev.Epoch, Rev: ev.ToRev}
			if catchingUp {
				// The engine pages a long catch-up; the client gets one
				// SYNC.DELTAS, so that the answer to JOIN is one message
				// (its size is bounded: deltas larger than the document
				// become a snapshot).
				if ops == nil {
					from = ev.FromRev
					ops = make([]protocol.Operation, 0, len(ev.Ops))
				}
				for _, op := range ev.Ops {
					ops = append(ops, wireOp(op))
				}
				if ev.CatchUpDone {
					catchingUp = false
					d := protocol.SyncDeltas{Doc: ev.Doc, Epoch: ev.Epoch, FromRev: from, ToRev: ev.ToRev, Operations: ops, AckedReqID: ev.AckedReqID}
					ops = nil
					if x == nil {
						// A resync answers no JOIN: the client gets
						// what it missed as live deltas, never empty
						// and without the watermark.
						if len(d.Operations) == 0 {
							return
						}
						d.AckedReqID = ""
					}
					reply(protocol.TypeSyncDeltas, d)
				}
				return
			}
			s.sendShared(ev)
		case syncd.EventSnapshot:
			j.pos = revision.Position{Epoch: ev.Epoch, Rev: ev.Rev}
			if catchingUp {
				catchingUp = false
				if ev.Gap != nil {
					s.conn.Send(protocol.TypeRevisionGap, gapPayload(ev))
					s.srv.opts.Metrics.out(protocol.TypeRevisionGap)
				}
				snap := snapshotPayload(ev)
				if x == nil {
					snap.AckedReqID = "" // a resync answers no JOIN
				}
				reply(protocol.TypeSyncSnapshot, snap)
				return
			}
			s.sendShared(ev) // a reset: the document was deleted
		case syncd.EventPresence:
			s.sendShared(ev)
		case syncd.EventResync:
			s.resync(j, j.pos)
		}
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

// encodeShared encodes a live event for the wire.
func encodeShared(ev *syncd.Event) any {
	var frames []*router.Frame
	add := func(typ string, payload any) {
		if f, err := router.NewFrame(typ, payload); err == nil {
			frames = append(frames, f)
		}
	}
	switch ev.Kind {
	case syncd.EventDeltas:
		ops := make([]protocol.Operation, len(ev.Ops))
		for i, op := range ev.Ops {
			ops[i] = wireOp(op)
		}
		add(protocol.TypeSyncDeltas, protocol.SyncDeltas{Doc: ev.Doc, Epoch: ev.Epoch, FromRev: ev.FromRev, ToRev: ev.ToRev, Operations: ops})
	case syncd.EventSnapshot:
		if ev.Gap != nil {
			add(protocol.TypeRevisionGap, gapPayload(ev))
		}
		add(protocol.TypeSyncSnapshot, snapshotPayload(ev))
	case syncd.EventPresence:
		p := protocol.Presence{Doc: ev.Doc, Clients: make([]protocol.PresenceClient, len(ev.Presence)), Left: ev.Left}
		for i, c := range ev.Presence {
			p.Clients[i] = protocol.PresenceClient{ClientID: c.ClientID, State: c.State}
		}
		add(protocol.TypePresence, p)
	}
	return frames
}

func gapPayload(ev *syncd.Event) protocol.RevisionGap {
	g := ev.Gap
	return protocol.RevisionGap{Doc: ev.Doc, ExpectedRev: g.ExpectedRev, ServerRev: g.ServerRev, BufferFirstRev: g.BufferFirstRev, ResumeFrom: g.ResumeFrom, Reason: string(g.Reason)}
}

func snapshotPayload(ev *syncd.Event) protocol.SyncSnapshot {
	return protocol.SyncSnapshot{Doc: ev.Doc, Epoch: ev.Epoch, Rev: ev.Rev, State: ev.State, AckedReqID: ev.AckedReqID}
}

// resync re-joins j's document after the engine dropped its subscription
// (a store failure reloaded the document): the client is consistent up to
// pos, so a new subscription from pos sends what it missed. It runs on a
// goroutine of its own, because a sink must not call the engine.
func (s *session) resync(j *joined, pos revision.Position) {
	s.mu.Lock()
	if s.closed || s.docs[j.doc] != j {
		s.mu.Unlock()
		return
	}
	s.resyncs.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.resyncs.Done()
		nj := &joined{doc: j.doc}
		sub, err := s.srv.engine.Subscribe(s.conn.Context(), j.doc, syncd.SubscribeRequest{ClientID: s.conn.ClientID(), Have: pos}, s.sink(nil, nj))
		if err != nil {
			// The client reconnects and resumes on its own.
			s.conn.Close(protocol.CloseTryAgainLater, "could not resync "+j.doc)
			return
		}
		nj.sub = sub
		s.mu.Lock()
		if s.closed || s.docs[j.doc] != j {
			s.mu.Unlock()
			sub.Close()
			return
		}
		s.docs[j.doc] = nj
		s.mu.Unlock()
	}()
}

// close ends every subscription and presence of the session.
func (s *session) close() {
	s.mu.Lock()
	s.closed = true
	docs := s.docs
	s.docs = nil
	s.mu.Unlock()
	s.resyncs.Wait()
	for doc, j := range docs {
		if j.sub != nil {
			j.sub.Close()
		}
		s.srv.engine.ClearPresence(doc, s.conn.ClientID())
	}
}
