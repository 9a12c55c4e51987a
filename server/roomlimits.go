package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// Room limits. Presence and room messages are fanned out to every
// connection in a room, so their size is multiplied by the room's size,
// and without bounds of their own they are bounded only by the message
// limit. So:
//
//   - a presence value is at most Limits.MaxPresenceBytes and a PUBLISH's
//     data at most Limits.MaxPublishBytes (INVALID_ARGUMENT: the same
//     request can never succeed);
//   - a document's room is at most syncd.Options.MaxRoomPresenceBytes, so
//     that the full-room PRESENCE a joiner receives fits easily in its
//     outbound queue (RESOURCE_EXHAUSTED: it may fit once others leave);
//   - a connection sets at most Limits.PresenceBytesPerSecond of presence
//     (RESOURCE_EXHAUSTED with retryAfterMs), which bounds what one client
//     makes every other connection in its rooms receive: presence is state
//     and is never dropped on the way, so it is bounded at its source;
//   - room messages (MESSAGE) are droppable frames: a connection whose
//     outbound queue holds more than Limits.RoomQueueBytes misses them
//     (router.NewDroppableFrame) instead of being closed as a slow
//     consumer, so a flood of large messages cannot disconnect a room.

// checkPresence refuses a presence value over the size cap or the
// connection's presence rate. Only the reader goroutine calls it.
func (s *Server) checkPresence(sess *session, doc string, state json.RawMessage) error {
	l := s.opts.Limits
	if len(state) > l.MaxPresenceBytes {
		return &protocol.Error{Code: protocol.CodeInvalidArgument,
			Message: fmt.Sprintf("presence state is %d bytes: at most %d (maxPresenceBytes)", len(state), l.MaxPresenceBytes),
			Details: presenceDetails{Doc: doc, Limit: protocol.LimitMaxPresenceBytes}}
	}
	if sess.presenceRate == nil {
		sess.presenceRate = rate.NewLimiter(rate.Limit(l.PresenceBytesPerSecond), l.presenceBurst())
	}
	r := sess.presenceRate.ReserveN(time.Now(), len(state))
	if delay := r.Delay(); delay > 0 {
		r.Cancel()
		return &protocol.Error{Code: protocol.CodeResourceExhausted,
			Message:    fmt.Sprintf("too much presence: at most %d bytes per second (presenceBytesPerSecond); retry later", l.PresenceBytesPerSecond),
			Details:    presenceDetails{Doc: doc, Limit: protocol.LimitPresenceBytesPerSec},
			RetryAfter: delay}
	}
	return nil
}

// presenceDetails are the details of a refused presence value: the
// document, and the limit by its HELLO.limits name (as every refusal over
// a limit names it; its value is in HELLO.limits).
type presenceDetails struct {
	Doc   string `json:"doc"`
	Limit string `json:"limit"`
}

// setPresence checks and sets the connection's presence in doc's room.
func (s *Server) setPresence(x *router.Ctx, doc string, state json.RawMessage) error {
	if err := s.checkPresence(sessionOf(x), doc, state); err != nil {
		return err
	}
	return s.enginePresence(x, doc, state)
}

// enginePresence sets the presence, turning a full room into
// RESOURCE_EXHAUSTED.
func (s *Server) enginePresence(x *router.Ctx, doc string, state json.RawMessage) error {
	ctx := x.Context()
	if u := sessionOf(x).user; u != nil {
		// Webhooks report a user's first join and last leave.
		ctx = syncd.ContextWithPresenceUser(ctx, u.ID)
	}
	err := s.engine.SetPresence(ctx, doc, x.Conn().ClientID(), state)
	if err == nil {
		s.cluster.presenceSet(doc, x.Conn().ClientID(), state)
	}
	if errors.Is(err, syncd.ErrRoomFull) {
		return &protocol.Error{Code: protocol.CodeResourceExhausted,
			Message:    fmt.Sprintf("the room's presence is full: at most %d bytes (maxRoomPresenceBytes); retry with a smaller value, or later", s.engine.MaxRoomPresenceBytes()),
			Details:    presenceDetails{Doc: doc, Limit: protocol.LimitMaxRoomPresenceBytes},
			RetryAfter: roomFullRetry,
			Cause:      err}
	}
	return err
}

// roomFullRetry: a room frees up as people leave, not within milliseconds.
const roomFullRetry = time.Second

// checkPublish refuses a room message over the size cap.
func (s *Server) checkPublish(p protocol.Publish) error {
	if limit := s.opts.Limits.MaxPublishBytes; len(p.Data) > limit {
		return &protocol.Error{Code: protocol.CodeInvalidArgument,
			Message: fmt.Sprintf("data is %d bytes: at most %d (maxPublishBytes)", len(p.Data), limit),
			Details: publishDetails{Doc: p.Doc, Topic: p.Topic, Limit: protocol.LimitMaxPublishBytes}}
	}
	return nil
}

// publishDetails are the details of a refused PUBLISH.
type publishDetails struct {
	Doc   string `json:"doc,omitempty"`
	Topic string `json:"topic,omitempty"`
	Limit string `json:"limit"` // the HELLO.limits name
}
