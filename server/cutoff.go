package server

import (
	"net/http"
	"strconv"

	"github.com/deltasync/syncd/protocol"
)

// An instance of a cluster that has lost its store (cut off from NATS) can
// settle no edit: its edits wait unacknowledged, and its clients would wait
// with them. Whoever watches the store (cmd/syncd's NATS watchdog) calls
// CutOff once that has lasted its stated time: every WebSocket is closed
// with 1013 (try again later), whose rule in the clients is to reconnect at
// the next endpoint, so they resume on an instance that can commit; new
// WebSockets are refused with 503 until Restore, and /readyz answers 503,
// so that a load balancer sends no one here meanwhile. Edits the instance
// had accepted stay pending in its engine: when the store returns they are
// settled against the log, which by then holds the clients' retries (the
// same request ids) from elsewhere, so none is applied twice.

// cutOffRetryAfter is the Retry-After of a WebSocket refused while cut off,
// in seconds: a client with several endpoints moves on at once anyway.
const cutOffRetryAfter = 5

// CutOff closes every WebSocket with 1013 and refuses new ones (503) until
// Restore; /readyz answers 503 with reason meanwhile. Calling it again while
// cut off only replaces the reason.
func (s *Server) CutOff(reason string) {
	s.cutOff.Store(&reason)
	for _, c := range s.router.Conns() {
		c.Close(protocol.CloseTryAgainLater, "server cut off from its store: "+reason)
	}
}

// Restore ends a CutOff: WebSockets are accepted again and /readyz answers
// as before.
func (s *Server) Restore() { s.cutOff.Store(nil) }

// CutOffReason returns why the server is cut off, and whether it is.
func (s *Server) CutOffReason() (string, bool) {
	if r := s.cutOff.Load(); r != nil {
		return *r, true
	}
	return "", false
}

// refuseWhileCutOff answers WebSocket upgrades with 503 while the server is
// cut off, before the router sees them. A connection could only wait for
// edits that cannot be settled here.
func (s *Server) refuseWhileCutOff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reason, cut := s.CutOffReason(); cut {
			w.Header().Set("Retry-After", strconv.Itoa(cutOffRetryAfter))
			http.Error(w, "cut off from the store: "+reason, http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}
