package router

import (
	"errors"

	"github.com/deltasync/syncd/revision"
)

// Connection attempts. A client that reconnects may have an older upgrade
// request still in flight: a TCP connection the network delayed, which the
// client gave up on. If that request arrived after the client's newer
// connection, "the newer connection replaces the older" would let it
// replace the live one, which is closed with CloseReplaced and stops for
// good. So a client names each attempt with a value from its monotonic
// request-id source (the query parameter "attempt"), and an attempt
// replaces a live connection of its client id only if its value is
// greater than the live connection's; a stale one is refused instead
// (CloseReplaced, at once, without OnOpen). An attempt without a value
// replaces as before (clients that do not send one), and so does any
// attempt replacing a connection that had none.
//
// That comparison decides between two connections on this router. The
// value is also what the server keeps durably per client id
// (Options.Authenticate refuses an attempt at or below the newest one it
// has recorded), which covers restarts and other instances; this check
// covers the race of two attempts that both passed that one.

// attemptParam is the upgrade request's query parameter naming the attempt.
const attemptParam = "attempt"

// errStaleAttempt: a live connection of the client id has a newer attempt.
var errStaleAttempt = errors.New("router: a newer connection attempt of this clientId is live")

// parseAttempt validates an attempt value: empty (none), or shaped like a
// request id (1–64 printable ASCII characters), which orders the same way.
func parseAttempt(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if err := revision.ValidateReqID(v); err != nil {
		return "", err
	}
	return v, nil
}

// supersedes reports whether a connection made with attempt next may
// replace a live one made with attempt live.
func supersedes(next, live string) bool {
	return next == "" || live == "" || revision.CompareReqID(next, live) > 0
}

// Attempt returns the connection attempt's value (the "attempt" query
// parameter), or "" if the client sent none.
func (c *Conn) Attempt() string { return c.attempt }
