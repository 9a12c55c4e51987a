package server

import (
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
)

// One live connection per client id across the cluster. On one instance
// the router keeps it (a newer connection replaces the older, closed with
// 4409; "newer" by the attempt value, router/attempt.go). Across instances,
// every connection that opens is announced on the claim subject with its
// attempt, and an instance holding a live connection of the same client id
// closes it with 4409 if the claim supersedes it, by the router's rule: a
// greater attempt, or either side without one (then the later claim wins).
//
// If instead the live connection here has the greater attempt (a stale
// attempt that got past the client record, e.g. two attempts racing), this
// instance announces its own connection again, and the other instance
// closes the stale one: whichever order the claims cross in, the greater
// attempt survives. Equal attempts are left alone (one client cannot make
// one attempt twice), so two instances never answer each other forever.

type busClaim struct {
	From     string `json:"from"`
	ClientID string `json:"clientId"`
	Attempt  string `json:"attempt,omitempty"`
}

// announceClaim tells the other instances that clientID has a live
// connection here, made with attempt.
func (c *cluster) announceClaim(clientID, attempt string) {
	c.publish(kindClaim, subjectClaim, busClaim{From: c.id, ClientID: clientID, Attempt: attempt}, false)
}

// onClaim closes this instance's connection of a client id that connected
// to another instance with a newer attempt.
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
	switch {
	case cl.Attempt == "" || live == "" || revision.CompareReqID(cl.Attempt, live) > 0:
		c.m.replaced.Inc()
		conn.Close(protocol.CloseReplaced, "replaced by a newer connection with the same clientId on another server")
	case revision.CompareReqID(cl.Attempt, live) < 0:
		c.announceClaim(cl.ClientID, live)
	}
}
