package server

import (
	"context"
	"strings"
	"time"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// A token's exp holds for the whole connection, not only at the upgrade:
// at exp + Options.JWTLeeway the connection is closed with 4401
// (CloseUnauthenticated), unless the client sent AUTH.REFRESH with a newer
// token of the same user before then. Otherwise a token revoked by letting
// it expire would keep a connection — and every document it joined —
// alive indefinitely.

// authState is a session's token deadline. Its fields are guarded by
// session.mu: the expiry timer fires on its own goroutine while the
// reader goroutine handles AUTH.REFRESH.
type authState struct {
	timer *time.Timer
	// gen counts the timers armed; a timer that fires after a refresh
	// replaced it sees a newer gen and does nothing.
	gen uint64
}

// armExpiry starts the close at the user's exp + leeway (no timer when the
// token has no exp). It replaces any earlier timer.
func (s *session) armExpiry() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopExpiryLocked()
	if s.user == nil || s.user.Expires.IsZero() || s.closed {
		return
	}
	gen, leeway := s.auth.gen, max(s.srv.opts.JWTLeeway, 0)
	s.auth.timer = time.AfterFunc(time.Until(s.user.Expires.Add(leeway)), func() { s.expire(gen) })
}

// disarmExpiry stops the timer when the connection closes.
func (s *session) disarmExpiry() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopExpiryLocked()
}

// stopExpiryLocked stops the timer, and moves the generation on so that a
// timer already firing finds itself stale. s.mu must be held.
func (s *session) stopExpiryLocked() {
	if s.auth.timer != nil {
		s.auth.timer.Stop()
		s.auth.timer = nil
	}
	s.auth.gen++
}

func (s *session) expire(gen uint64) {
	s.mu.Lock()
	current := gen == s.auth.gen && !s.closed
	s.mu.Unlock()
	if current {
		s.conn.Close(protocol.CloseUnauthenticated, "token expired; reconnect with a new token")
	}
}

// handleAuthRefresh replaces the connection's token: the new one must be
// valid and be the same user's (a connection never changes hands; its
// client id and watermarks belong to that user). Its docs claim replaces
// the old one for every JOIN and UPDATE from now on, and a joined document
// the new token may not read is left at once (revoked), so narrowing a
// user's documents takes effect without waiting for a reconnect.
func (s *Server) handleAuthRefresh(x *router.Ctx, p protocol.AuthRefresh) error {
	sess := sessionOf(x)
	if s.verifier == nil || sess.user == nil {
		return protocol.NewError(protocol.CodeFailedPrecondition, "authentication is off: there is no token to refresh")
	}
	user, err := s.verifier.verify(p.Token)
	if err != nil {
		return protocol.NewError(protocol.CodeUnauthenticated, err.Error())
	}
	if user.ID != sess.user.ID {
		return protocol.NewError(protocol.CodePermissionDenied, "the new token is for another user (sub); a connection keeps its user")
	}
	// The reader goroutine (this one) reads sess.user without mu; every
	// other goroutine (the expiry timer in armExpiry, the admin page
	// through userID) reads it under mu.
	sess.mu.Lock()
	sess.user = user
	sess.mu.Unlock()
	sess.armExpiry()
	// What the new token may not read stops before the answer, so that
	// nothing committed after the client saw the refresh accepted reaches
	// it; the client is told after the answer, so that it reads its
	// revocations as consequences of the refresh it saw accepted.
	notices := s.revokeUnreadable(x, sess)
	var reply protocol.AuthRefreshOK
	if !user.Expires.IsZero() {
		reply.Exp = user.Expires.Unix()
	}
	if x.IsRPC() {
		err = x.Reply(protocol.TypeAuthRefreshOK, reply)
	} else {
		err = x.Conn().Send(protocol.TypeAuthRefreshOK, reply)
	}
	for _, n := range notices {
		x.Conn().Send(protocol.TypeError, n)
	}
	return err
}

// revokeUnreadable leaves every joined document the session's user may no
// longer read, as LEAVE would, and returns what tells the client: an ERROR
// PERMISSION_DENIED for each, whose details name the document (as a
// refused JOIN's do). Runs on the reader goroutine, like LEAVE.
func (s *Server) revokeUnreadable(x *router.Ctx, sess *session) (notices []*protocol.Error) {
	sess.mu.Lock()
	var revoked []*joined
	var readOnly []string
	for _, j := range sess.joinedLocked() {
		if !sess.user.CanRead(j.doc) {
			revoked = append(revoked, j)
			sess.deleteDocLocked(j.doc)
		} else if !sess.user.CanWrite(j.doc) {
			readOnly = append(readOnly, j.doc)
		}
	}
	sess.mu.Unlock()
	// Presence needs write: a document the new token may read but not
	// write stays joined, but its room stops listing the client, as it
	// would never have listed a reader (PROTOCOL.md §2.3).
	for _, doc := range readOnly {
		s.clearPresence(doc, sess.conn.ClientID())
	}
	for _, j := range revoked {
		sess.endMembership(j)
		notices = append(notices, protocol.NewError(protocol.CodePermissionDenied,
			"the refreshed token does not allow this document: it was left").WithDetails(joinDetails{Doc: j.doc}))
	}
	// Topics the new token may not read are left the same way, or a
	// narrowed token would keep receiving them.
	for _, t := range x.Conn().Topics() {
		topic, ok := strings.CutPrefix(t, userTopicPrefix)
		if !ok || sess.user.CanSubscribe(topic) {
			continue
		}
		x.Conn().Unsubscribe(context.Background(), t)
		notices = append(notices, protocol.NewError(protocol.CodePermissionDenied,
			"the refreshed token does not allow this topic: it was left").WithDetails(topicDetails{Topic: topic}))
	}
	return notices
}

// userID is the session's user, "" without authentication. For other
// goroutines than the reader (the admin page): AUTH.REFRESH replaces
// s.user under s.mu.
func (s *session) userID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.user == nil {
		return ""
	}
	return s.user.ID
}

// joinedLocked returns the joined documents. s.mu must be held.
func (s *session) joinedLocked() []*joined {
	all := make([]*joined, 0, s.countDocsLocked())
	if s.one != nil {
		all = append(all, s.one)
	}
	for _, j := range s.docs {
		all = append(all, j)
	}
	return all
}
