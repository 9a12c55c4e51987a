package server

import (
	"cmp"
	"sync"
	"time"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/router"
)

// One live connection per client id across the cluster. On one instance
// the router keeps it (a newer connection replaces the older, closed with
// 4409; "newer" by the attempt value, router/attempt.go). Across instances,
// every connection that opens is announced on the claim subject with its
// attempt and the time it opened, and an instance holding a live
// connection of the same client id closes it with 4409 if the claim is
// newer: by attempt when both have one (the client's own order, which
// clocks cannot disturb), otherwise by the time each opened (the router's
// "the later connection wins" for clients that send no attempt; instances
// whose clocks disagree by more than the time between two connections may
// pick the earlier one, but never keep both).
//
// If instead the live connection here is the newer (a stale attempt that
// got past the client record, or claims that crossed on the bus), this
// instance announces its own connection again, and the other instance
// closes its older one: whichever order the claims arrive in, exactly the
// newer connection survives. A tie is left alone (one client cannot make
// one attempt twice), so two instances never answer each other forever.
//
// The bus is at most once, and a lost claim would leave both connections
// live: so a connection's claim is announced again with this instance's
// next claimRepeats heartbeats (while the connection lasts). A repeat
// changes nothing where the claim was heard: the older connection is
// already closed, and a tie is left alone.

type busClaim struct {
	From     string `json:"from"`
	ClientID string `json:"clientId"`
	Attempt  string `json:"attempt,omitempty"`
	Opened   int64  `json:"opened"` // Unix nanoseconds, the announcing instance's clock
}

// claimRepeats is how many heartbeats after its first announcement a
// claim is announced again.
const claimRepeats = 3

// recentClaims are the connections whose claims are still to be repeated.
type recentClaims struct {
	mu    sync.Mutex
	conns map[*router.Conn]int // → repeats left
}

// add records conn for repeats.
func (r *recentClaims) add(conn *router.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		r.conns = make(map[*router.Conn]int)
	}
	r.conns[conn] = claimRepeats
}

// due returns the connections whose claims go out with this heartbeat,
// forgetting those repeated enough or closing.
func (r *recentClaims) due() []*router.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*router.Conn
	for conn, left := range r.conns {
		if left <= 0 || conn.Closing() {
			delete(r.conns, conn)
			continue
		}
		r.conns[conn] = left - 1
		out = append(out, conn)
	}
	return out
}

// repeatClaims announces again the claims of the connections opened in the
// last claimRepeats heartbeats.
func (c *cluster) repeatClaims() {
	for _, conn := range c.claims.due() {
		c.announceClaim(conn.ClientID(), conn.Attempt(), conn.Opened())
	}
}

// announceClaim tells the other instances that clientID has a live
// connection here, made with attempt and opened at opened.
func (c *cluster) announceClaim(clientID, attempt string, opened time.Time) {
	c.publish(kindClaim, subjectClaim, busClaim{From: c.id, ClientID: clientID, Attempt: attempt, Opened: opened.UnixNano()}, false)
}

// onClaim closes this instance's connection of a client id that has a
// newer connection on another instance, or answers a claim older than the
// connection here.
func (c *cluster) onClaim(data []byte) {
	var cl busClaim
	if !c.receive(kindClaim, data, &cl, &cl.From) {
		return
	}
	conn, ok := c.s.router.Conn(cl.ClientID)
	if !ok || conn.Closing() {
		return // a closing connection neither loses nor wins a claim
	}
	live := conn.Attempt()
	var order int // > 0: the claim is newer than the connection here
	if cl.Attempt != "" && live != "" {
		order = revision.CompareReqID(cl.Attempt, live)
	} else {
		order = cmp.Compare(cl.Opened, conn.Opened().UnixNano())
	}
	switch {
	case order > 0:
		c.m.replaced.Inc()
		conn.Close(protocol.CloseReplaced, "replaced by a newer connection with the same clientId on another server")
	case order < 0:
		c.announceClaim(cl.ClientID, live, conn.Opened())
	}
}
