package server

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/deltasync/syncd/protocol"
)

// Document creation is rate-limited per connection (Limits.DocsPerMinute)
// and, with authentication on, per user (Limits.UserDocsPerMinute, by the
// token's sub, across all of the user's connections). A JOIN creates the
// document it names if it does not exist, and every created document is
// stored and loaded: without a limit, JOIN+LEAVE of ever new ids is the
// cheapest way to fill the disk and the engine's table of loaded documents.
// Only creations count; joining a document that exists is free. A refused
// JOIN creates nothing and is answered RESOURCE_EXHAUSTED with
// retryAfterMs.

// perMinute returns a token bucket refilling at n per minute, holding a
// minute's worth: a client may create that many documents at once, then at
// the rate.
func perMinute(n int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(float64(n)/60), n)
}

// mayCreate is the engine's creation check for a JOIN on sess: it takes a
// token from the connection's bucket and, with authentication, from the
// user's, or refuses with the time until both would have one.
func (s *Server) mayCreate(sess *session) error {
	l := s.opts.Limits
	if sess.creations == nil {
		sess.creations = perMinute(l.DocsPerMinute)
	}
	now := time.Now()
	conn := sess.creations.ReserveN(now, 1)
	if d := conn.DelayFrom(now); d > 0 {
		conn.CancelAt(now)
		return creationRefusal(d, fmt.Sprintf("a connection may create at most %d documents a minute", l.DocsPerMinute))
	}
	if sess.user == nil {
		return nil
	}
	user := s.creators.limiter(sess.user.ID).ReserveN(now, 1)
	if d := user.DelayFrom(now); d > 0 {
		user.CancelAt(now)
		conn.CancelAt(now) // nothing was created: give the connection its token back
		return creationRefusal(d, fmt.Sprintf("a user may create at most %d documents a minute", l.UserDocsPerMinute))
	}
	return nil
}

func creationRefusal(retryAfter time.Duration, why string) *protocol.Error {
	return &protocol.Error{
		Code:       protocol.CodeResourceExhausted,
		Message:    "too many new documents: " + why + "; retry later",
		RetryAfter: max(retryAfter, time.Millisecond),
	}
}

// userCreations holds each user's creation bucket. Users come and go, so
// the map is pruned as it grows: a bucket that has refilled completely is
// the same as a new one, and is dropped.
type userCreations struct {
	perMinute int

	mu    sync.Mutex
	users map[string]*rate.Limiter
	// pruneAt is the size at which the next prune runs: twice what the
	// last one kept (at least minPrune), so pruning is amortised O(1) per
	// new user.
	pruneAt int
}

const minPrune = 1024

func newUserCreations(perMinute int) *userCreations {
	return &userCreations{perMinute: perMinute, users: make(map[string]*rate.Limiter), pruneAt: minPrune}
}

// limiter returns user's bucket, made on first use.
func (u *userCreations) limiter(user string) *rate.Limiter {
	u.mu.Lock()
	defer u.mu.Unlock()
	if l := u.users[user]; l != nil {
		return l
	}
	if len(u.users) >= u.pruneAt {
		now := time.Now()
		for id, l := range u.users {
			if l.TokensAt(now) >= float64(l.Burst()) {
				delete(u.users, id)
			}
		}
		u.pruneAt = max(2*len(u.users), minPrune)
	}
	l := perMinute(u.perMinute)
	u.users[user] = l
	return l
}
