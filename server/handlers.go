package server

import (
	"errors"
	"slices"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/router"
)

// The sync protocol's handlers, on the router. Every handler runs on the
// connection's reader goroutine, one message at a time, in order; none
// waits for an fsync (edits are decided in order and acknowledged later,
// through the subscription). A message with meta.correlationId is an RPC:
// JOIN's answer carries the correlationId back, UPDATE is answered
// UPDATE.OK once durable, and LEAVE, PRESENCE.SET, PUBLISH, SUBSCRIBE,
// UNSUBSCRIBE and HEARTBEAT are answered <TYPE>.OK with an empty payload.

// Reply types of the sync protocol's RPCs.
const (
	typeUpdateOK = "UPDATE.OK"
	okSuffix     = ".OK"
)

// UpdateOK is the reply to an UPDATE sent as an RPC.
type UpdateOK struct {
	Doc         string       `json:"doc"`
	Rev         revision.Rev `json:"rev"`
	ClientReqID string       `json:"clientReqId"`
}

func (s *Server) routes() {
	r := s.router
	r.Use(s.countIn)
	router.Handle(r, protocol.TypeJoin, s.handleJoin)
	r.HandleFunc(protocol.TypeUpdate, s.handleUpdateMessage)
	router.Handle(r, protocol.TypeLeave, s.handleLeave)
	router.Handle(r, protocol.TypePresenceSet, s.handlePresenceSet)
	router.Handle(r, protocol.TypePublish, s.handlePublish)
	router.Handle(r, protocol.TypeSubscribe, s.handleSubscribe)
	router.Handle(r, protocol.TypeUnsubscribe, s.handleUnsubscribe)
	router.Handle(r, protocol.TypeHeartbeat, func(x *router.Ctx, _ protocol.Heartbeat) error { return ok(x) })
	router.Handle(r, protocol.TypeAuthRefresh, s.handleAuthRefresh)
}

// ok answers an RPC that has nothing to return.
func ok(x *router.Ctx) error {
	if x.IsRPC() {
		return x.Reply(x.Type()+okSuffix, struct{}{})
	}
	return nil
}

func (s *Server) countIn(next router.HandlerFunc) router.HandlerFunc {
	return func(x *router.Ctx) error {
		s.opts.Metrics.in(x.Type())
		return next(x)
	}
}

var (
	errNotJoined = protocol.NewError(protocol.CodeFailedPrecondition, "join the document first")
	errForbidden = protocol.NewError(protocol.CodePermissionDenied, "this token does not allow it")
)

// handleJoin joins a document; a refusal names the document in its
// details, so a client that sent several JOINs knows which one failed.
func (s *Server) handleJoin(x *router.Ctx, p protocol.Join) error {
	// JOIN goes deep (the engine's subscribe path, the catch-up's
	// encoding), but that depth does not stay with an idle connection: the
	// router parks idle connections on a fresh, shallow goroutine.
	if err := s.join(x, p); err != nil {
		det := joinDetails{Doc: p.Doc}
		if errors.Is(err, errTooManyDocs) {
			// The one refusal a retry cannot mend without a LEAVE: a
			// client tells it by the limit, not by the message's text.
			det.Limit = protocol.LimitMaxDocsPerConnection
		}
		return toWire(err).WithDetails(det)
	}
	return nil
}

// joinDetails are the details of a refused JOIN.
type joinDetails struct {
	Doc string `json:"doc"`
	// Limit is the HELLO.limits name of the limit that refused it, if one
	// did (PROTOCOL.md §6.11).
	Limit string `json:"limit,omitempty"`
}

// errTooManyDocs marks the refusal of a JOIN over Limits.MaxDocsPerConn.
var errTooManyDocs = errors.New("too many documents joined")

func (s *Server) join(x *router.Ctx, p protocol.Join) error {
	sess := sessionOf(x)
	if !sess.user.CanRead(p.Doc) {
		return errForbidden
	}
	if len(p.Presence) > 0 && !sess.user.CanWrite(p.Doc) {
		return errPresenceForbidden // permissions.go
	}
	sess.mu.Lock()
	old := sess.docLocked(p.Doc)
	n := sess.countDocsLocked()
	sess.mu.Unlock()
	if old == nil && n >= s.opts.Limits.MaxDocsPerConn {
		e := protocol.Errorf(protocol.CodeResourceExhausted, "a connection may join at most %d documents: leave one first", s.opts.Limits.MaxDocsPerConn)
		e.Cause = errTooManyDocs
		return e
	}
	if len(p.Presence) > 0 {
		// Before joining: a value refused for its size or rate refuses
		// the JOIN whole.
		if err := s.checkPresence(sess, p.Doc, p.Presence); err != nil {
			return err
		}
	}
	if old != nil && old.sub != nil {
		old.sub.Close() // joining again starts over from the client's position
	}
	var have revision.Position
	if p.Rev != nil {
		have = revision.Position{Epoch: p.Epoch, Rev: *p.Rev}
	}
	// The merged room of a cluster (cluster_presence.go): the JOIN takes an
	// interest in the room, which a new membership keeps.
	entered := s.cluster.joining(x, p.Doc)
	member := false
	defer func() { entered(member) }()
	j := sess.newJoined(x, p.Doc)
	// The answer to JOIN may combine operations (firstRev, §5.3).
	sub, err := s.engine.Subscribe(x.Context(), p.Doc, syncd.SubscribeRequest{
		ClientID:  x.Conn().ClientID(),
		Have:      have,
		Compact:   true,
		MayCreate: func() error { return s.mayCreate(sess) },
	}, j.deliver)
	if err != nil {
		// A re-join that failed leaves the document: the client is not
		// in the room any more, and could not LEAVE it.
		sess.mu.Lock()
		left := old != nil && sess.docLocked(p.Doc) == old
		if left {
			sess.deleteDocLocked(p.Doc)
		}
		sess.mu.Unlock()
		if left {
			sess.endMembership(old)
		}
		return err
	}
	j.sub = sub
	sess.mu.Lock()
	if sess.closed {
		sess.mu.Unlock()
		sub.Close()
		return nil
	}
	member = sess.docLocked(p.Doc) == nil
	sess.setDocLocked(j)
	sess.mu.Unlock()
	if len(p.Presence) > 0 {
		if err := s.enginePresence(x, p.Doc, p.Presence); err != nil {
			// The JOIN was answered by its catch-up: the refusal of its
			// presence (a full room) comes as a plain ERROR.
			perr := toWire(err).WithDetails(joinDetails{Doc: p.Doc})
			x.Conn().Send(protocol.TypeError, perr)
		}
	}
	return nil
}

// handleUpdateMessage decodes an UPDATE itself, rather than through
// router.Handle, because a malformed one is refused with the edit's ids
// when the payload names them (malformedUpdate).
func (s *Server) handleUpdateMessage(x *router.Ctx) error {
	var p protocol.Update
	if err := router.Decode(x.Payload(), &p); err != nil {
		return malformedUpdate(s.engine, err, &p)
	}
	return s.handleUpdate(x, p)
}

func (s *Server) handleUpdate(x *router.Ctx, p protocol.Update) error {
	sess := sessionOf(x)
	clientID := x.Conn().ClientID()
	if sess.joinedDoc(p.Doc) == nil {
		return refuseUpdate(s.engine, errNotJoined, p.Doc, p.ClientReqID)
	}
	if !sess.user.CanWrite(p.Doc) {
		return refuseUpdate(s.engine, errForbidden, p.Doc, p.ClientReqID)
	}
	if r := sess.updateLimiter().Reserve(); r.Delay() > 0 {
		// Over the UPDATE rate: refuse, and record the refusal in the
		// client's watermark, so the id is never applied later.
		delay := r.Delay()
		r.Cancel()
		limited := &protocol.Error{Code: protocol.CodeResourceExhausted, Message: "too many updates; retry later under a new clientReqId", RetryAfter: delay}
		s.engine.Refuse(x.Context(), p.Doc, clientID, p.ClientReqID, func(head revision.Rev, err error) {
			if err == nil {
				err = limited
			}
			x.Error(updateRefusal(err, p.Doc, p.ClientReqID, head))
		})
		return nil
	}
	ed := syncd.Edit{ClientID: clientID, ReqID: p.ClientReqID, Epoch: p.Epoch, Patch: p.Patch}
	if p.BaseRev != nil {
		ed.Base, ed.HasBase = *p.BaseRev, true
	}
	start := time.Now()
	s.engine.CommitAsync(x.Context(), p.Doc, ed, func(op *syncd.Op, err error) {
		s.opts.Metrics.observeEdit(time.Since(start), err)
		if errors.Is(err, syncd.ErrOutcomeUnknown) {
			s.closeUnsettled(x.Conn(), p.Doc, p.ClientReqID, err)
			return
		}
		if err != nil {
			x.Error(refuseUpdate(s.engine, err, p.Doc, p.ClientReqID))
			return
		}
		// The acknowledgement is the operation itself, echoed with its
		// clientReqId in SYNC.DELTAS; an RPC also gets a direct reply.
		if x.IsRPC() {
			x.Reply(typeUpdateOK, UpdateOK{Doc: p.Doc, Rev: op.Rev, ClientReqID: p.ClientReqID})
		}
	})
	return nil
}

func (s *Server) handleLeave(x *router.Ctx, p protocol.Leave) error {
	sess := sessionOf(x)
	sess.mu.Lock()
	j := sess.docLocked(p.Doc)
	sess.deleteDocLocked(p.Doc)
	sess.mu.Unlock()
	if j == nil {
		return errNotJoined
	}
	sess.endMembership(j)
	return ok(x)
}

func (s *Server) handlePresenceSet(x *router.Ctx, p protocol.PresenceSet) error {
	sess := sessionOf(x)
	if sess.joinedDoc(p.Doc) == nil {
		return errNotJoined
	}
	if !sess.user.CanWrite(p.Doc) {
		return errPresenceForbidden.WithDetails(docDetails{Doc: p.Doc})
	}
	if err := s.setPresence(x, p.Doc, p.State); err != nil {
		return err
	}
	return ok(x)
}

func (s *Server) handlePublish(x *router.Ctx, p protocol.Publish) error {
	sess := sessionOf(x)
	if p.Doc != "" {
		if sess.joinedDoc(p.Doc) == nil {
			return errNotJoined
		}
		if !sess.user.CanWrite(p.Doc) {
			return errRoomPublishForbidden.WithDetails(docDetails{Doc: p.Doc})
		}
	} else {
		if !slices.Contains(x.Conn().Topics(), userTopicPrefix+p.Topic) {
			return protocol.NewError(protocol.CodeFailedPrecondition, "subscribe to the topic first")
		}
		if !sess.user.CanPublish(p.Topic) {
			return errTopicPublishForbidden.WithDetails(topicDetails{Topic: p.Topic})
		}
	}
	if err := s.checkPublish(p); err != nil {
		return err
	}
	// Droppable: a connection too far behind misses it rather than be
	// closed for it (roomlimits.go).
	from := x.Conn().ClientID()
	f, err := router.NewDroppableFrame(protocol.TypeMessage, protocol.Message{Doc: p.Doc, Topic: p.Topic, Data: p.Data, From: authorOf(from)})
	if err != nil {
		return err
	}
	if p.Doc != "" {
		// A document's room is its subscribers: the message goes the way
		// its operations and presence go, to this instance's connections
		// through the engine and to the others' over the cluster's bus.
		s.engine.PublishRoom(p.Doc, from, f)
		s.cluster.roomMessage(p.Doc, from, f)
	} else if err := s.router.PublishFrame(x.Context(), userTopicPrefix+p.Topic, f, router.PublishOptions{Exclude: from}); err != nil {
		return err
	}
	return ok(x)
}

func (s *Server) handleSubscribe(x *router.Ctx, p protocol.Subscribe) error {
	sess := sessionOf(x)
	if !sess.user.CanSubscribe(p.Topic) {
		return errSubscribeForbidden.WithDetails(topicDetails{Topic: p.Topic})
	}
	topic := userTopicPrefix + p.Topic
	topics := x.Conn().Topics()
	sess.mu.Lock()
	rooms := sess.countDocsLocked()
	sess.mu.Unlock()
	if !slices.Contains(topics, topic) && rooms+len(topics) >= 2*s.opts.Limits.MaxDocsPerConn {
		return protocol.Errorf(protocol.CodeResourceExhausted, "a connection may subscribe to at most %d rooms and topics", 2*s.opts.Limits.MaxDocsPerConn)
	}
	if err := x.Conn().Subscribe(x.Context(), topic); err != nil {
		return err
	}
	return ok(x)
}

func (s *Server) handleUnsubscribe(x *router.Ctx, p protocol.Unsubscribe) error {
	if err := x.Conn().Unsubscribe(x.Context(), userTopicPrefix+p.Topic); err != nil {
		return err
	}
	return ok(x)
}

// authenticate runs before every upgrade; its result is the session.
func (s *Server) authenticate(req router.AuthRequest) (any, error) {
	sess := &session{srv: s}
	if s.verifier == nil {
		if err := s.claimClient(req, ""); err != nil {
			return nil, err
		}
		return sess, nil
	}
	if req.Token == "" {
		return nil, protocol.NewError(protocol.CodeUnauthenticated, "a token is required (access_token, a bearer. subprotocol, or an Authorization header)")
	}
	user, err := s.verifier.verify(req.Token)
	if err != nil {
		return nil, protocol.NewError(protocol.CodeUnauthenticated, err.Error())
	}
	if err := s.claimClient(req, user.ID); err != nil {
		return nil, err
	}
	sess.user = user
	return sess, nil
}

// onOpen greets the client.
func (s *Server) onOpen(c *router.Conn) {
	sess := c.Data().(*session)
	sess.conn = c
	s.opts.Metrics.connections.Inc()
	if sess.user != nil {
		sess.armExpiry()
	}
	c.Send(protocol.TypeHello, protocol.Hello{
		ClientID:    c.ClientID(),
		AuthorID:    authorOf(c.ClientID()),
		Protocol:    protocol.ProtocolVersion,
		HeartbeatMs: s.opts.HeartbeatInterval.Milliseconds(),
		Limits:      s.limits(),
	})
	s.opts.Metrics.out(protocol.TypeHello)
}

// limits is what HELLO tells the client about the limits in force.
func (s *Server) limits() map[string]int64 {
	l := s.opts.Limits
	maxConns, perAddr := s.router.ConnCaps()
	return map[string]int64{
		protocol.LimitMaxConnections:       int64(maxConns),
		protocol.LimitMaxConnsPerAddress:   int64(perAddr),
		protocol.LimitMaxMessageBytes:      l.MaxMessageBytes,
		protocol.LimitMaxDocumentBytes:     int64(s.engine.MaxDocSize()),
		protocol.LimitMaxDocsPerConnection: int64(l.MaxDocsPerConn),
		protocol.LimitMessagesPerSecond:    int64(l.MessagesPerSecond),
		protocol.LimitMaxQueueBytes:        int64(l.OutboundQueueBytes),
		protocol.LimitRoomQueueBytes:       int64(l.RoomQueueBytes),
		protocol.LimitMaxPresenceBytes:     int64(l.MaxPresenceBytes),
		protocol.LimitPresenceBytesPerSec:  int64(l.PresenceBytesPerSecond),
		protocol.LimitMaxRoomPresenceBytes: int64(s.engine.MaxRoomPresenceBytes()),
		protocol.LimitMaxPublishBytes:      int64(l.MaxPublishBytes),
		protocol.LimitMessageTimeoutMs:     l.MessageTimeout.Milliseconds(),
		protocol.LimitMaxDocumentDepth:     int64(s.engine.MaxDocDepth()),
		protocol.LimitMaxPatchOps:          int64(s.engine.MaxPatchOps()),
		protocol.LimitMaxPatchWorkBytes:    int64(s.engine.MaxPatchWork()),
		protocol.LimitUpdatesPerSecond:     int64(l.UpdatesPerSecond),
		protocol.LimitDocsCreatedPerMinute: int64(l.DocsPerMinute),
		protocol.LimitHeartbeatTimeoutMs:   s.opts.HeartbeatTimeout.Milliseconds(),
	}
}

// onClose ends the session's subscriptions and presence.
func (s *Server) onClose(c *router.Conn, code int, reason string) {
	// A connection that never opened (refused at registration: the server
	// shutting down, a stale attempt) was never counted and has no state;
	// its client id may be another connection's, live.
	if sess, ok := c.Data().(*session); ok && sess.conn != nil {
		sess.disarmExpiry()
		s.opts.Metrics.connections.Dec()
		sess.close()
	}
}
