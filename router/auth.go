package router

import (
	"net/http"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
)

// Credentials, as ws-kit's browser client sends them. A browser cannot set
// headers on a WebSocket, so its client puts the token in the query
// (access_token) or in a Sec-WebSocket-Protocol entry "bearer.<token>";
// other clients may use an Authorization header.

// bearerPrefix marks the subprotocol entry that carries a token.
const bearerPrefix = "bearer."

// tokenFrom returns the bearer token of an upgrade request, from the query,
// then the subprotocols, then the Authorization header.
func tokenFrom(r *http.Request) string {
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t
	}
	for _, p := range websocket.Subprotocols(r) {
		if t, ok := strings.CutPrefix(p, bearerPrefix); ok && t != "" {
			return t
		}
	}
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

// selectSubprotocol chooses the subprotocol to answer with. The token entry
// is never selected: echoing it would put the token in the response, and
// it names no protocol. Note that a browser that offered only the token
// entry gets no protocol back, which some browsers treat as a failed
// handshake: such a client must offer a real protocol too.
func (r *Router) selectSubprotocol(req *http.Request) string {
	offered := websocket.Subprotocols(req)
	if r.opts.Subprotocols == nil {
		for _, p := range offered {
			if !strings.HasPrefix(p, bearerPrefix) {
				return p
			}
		}
		return ""
	}
	for _, want := range r.opts.Subprotocols {
		for _, p := range offered {
			if p == want && !strings.HasPrefix(p, bearerPrefix) {
				return p
			}
		}
	}
	return ""
}

// authStatus is the HTTP status refusing an upgrade for err.
func authStatus(err error) int {
	switch protocol.CodeOf(err) {
	case protocol.CodePermissionDenied:
		return http.StatusForbidden
	case protocol.CodeAborted:
		return http.StatusConflict // a stale connection attempt (attempt.go)
	case protocol.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}
