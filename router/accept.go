package router

import (
	"crypto/rand"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"

	"github.com/deltasync/syncd/protocol"
)

// ServeHTTP upgrades a request to a WebSocket connection. Before the
// upgrade it checks, in order: the Host (421, see [AllowedHost]), that the
// request is a WebSocket upgrade (426), the Origin (403), the clientId and
// attempt (400), the credentials (401, 403, or 409 for a stale attempt,
// from Options.Authenticate), the connection caps (503 with Retry-After;
// conncap.go), and the router's state (503 during shutdown). Then it starts
// the connection's reader goroutine and returns, so that nothing of the
// HTTP request stays alive with the connection.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.freeze()
	if !AllowedHost(req, r.opts.AllowedHosts, r.opts.TrustedProxies) {
		RefuseHost(w, req, r.opts.TrustedProxies)
		return
	}
	if !websocket.IsWebSocketUpgrade(req) {
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "expected a WebSocket upgrade", http.StatusUpgradeRequired)
		return
	}
	if !r.checkOrigin(req) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	id, assigned := req.URL.Query().Get("clientId"), false
	if id == "" {
		id, assigned = newULID(time.Now()), true
	} else {
		canon, err := protocol.ParseClientID(id)
		if err != nil {
			http.Error(w, "invalid clientId: must be a ULID", http.StatusBadRequest)
			return
		}
		id = canon
	}
	attempt, err := parseAttempt(req.URL.Query().Get(attemptParam))
	if err != nil {
		http.Error(w, "invalid attempt: must be 1-64 printable ASCII characters", http.StatusBadRequest)
		return
	}
	var data any
	if auth := r.opts.Authenticate; auth != nil {
		var err error
		data, err = auth(AuthRequest{Request: req, Token: tokenFrom(req), ClientID: id, ClientIDAssigned: assigned, Attempt: attempt})
		if err != nil {
			status := authStatus(err)
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", "Bearer")
			}
			http.Error(w, http.StatusText(status), status)
			return
		}
	}
	addr, ok := r.admit(w, req) // the connection caps (conncap.go)
	if !ok {
		return
	}
	if !r.acquire() {
		r.counter.release(addr)
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	var hdr http.Header
	if p := r.selectSubprotocol(req); p != "" {
		hdr = http.Header{"Sec-Websocket-Protocol": {p}}
	}
	hj := &hijacker{ResponseWriter: w, timeout: r.opts.WriteTimeout, readers: r.readers}
	ws, err := r.upgrader.Upgrade(hj, req, hdr)
	if err != nil {
		r.counter.release(addr)
		r.wg.Done() // gorilla has answered the request
		return
	}
	c := newConn(r, ws, hj.wire, hj.br, id, data)
	c.attempt = attempt
	c.addr = addr
	go c.serve()
}

// acquire counts a new connection's reader in r.wg unless the router is
// shut down. Under r.mu, so that Shutdown's Wait never races an Add.
func (r *Router) acquire() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shutdown {
		return false
	}
	r.wg.Add(1)
	return true
}

// newULID returns a new ULID for a client id the router assigns.
func newULID(t time.Time) string { return ulid.MustNew(ulid.Timestamp(t), rand.Reader).String() }
