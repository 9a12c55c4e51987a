package server

import (
	"io"
	"net/http"
	"time"
)

// HTTP requests other than the WebSocket upgrade are bounded here, per
// request, rather than with http.Server's ReadTimeout and WriteTimeout:
// those would also apply to the connection a WebSocket upgrade hijacks.
// net/http leaves a hijacked connection's deadlines as they are, and the
// router sets no read deadline while a connection is healthy (heartbeats
// bound it), so a server-wide ReadTimeout would cut every WebSocket after
// ReadTimeout. The router bounds each write itself (its wireConn).
//
// What each request gets:
//   - a write deadline, HTTPWriteTimeout from the start of the request (the
//     backup stream instead renews it at every chunk: see deadlineWriter);
//   - a route that reads a body (the edits route, the admin sign-in) gets a read deadline
//     of HTTPReadTimeout and its body capped (http.MaxBytesReader);
//   - a request with a body to any other route, or refused by the API key
//     check, never has its body read: the connection closes after the
//     answer. (Otherwise net/http reads up to 256 KiB of an unread body
//     after the handler to keep the connection, at the client's pace.)
//
// The header is bounded by http.Server.ReadHeaderTimeout and the wait
// between requests by its IdleTimeout (cmd/syncd sets both).

// bounded wraps the server's mux with the deadlines and body limits above.
func (s *Server) bounded(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		rc := http.NewResponseController(w)
		if pattern == wsPattern {
			// A previous request on this keep-alive connection may have
			// left a write deadline; the router owns deadlines from here.
			rc.SetWriteDeadline(time.Time{})
			mux.ServeHTTP(w, r)
			return
		}
		now := time.Now()
		rc.SetWriteDeadline(now.Add(s.opts.HTTPWriteTimeout))
		if limit, ok := bodyLimits[pattern]; ok {
			rc.SetReadDeadline(now.Add(s.opts.HTTPReadTimeout))
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		} else {
			refuseBody(w, r)
		}
		mux.ServeHTTP(w, r)
	})
}

// wsPattern is the route of the WebSocket upgrade.
const wsPattern = "GET /ws"

// bodyLimits are the routes that read a request body, with its cap.
var bodyLimits = map[string]int64{
	editPattern:       maxEditBody,
	adminLoginPattern: maxAdminFormBytes,
}

// refuseBody makes sure r's body, if it has one, is never read: the
// connection closes after the response, and a read deadline already past
// stops net/http from draining the body first.
func refuseBody(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 {
		return
	}
	w.Header().Set("Connection", "close")
	http.NewResponseController(w).SetReadDeadline(time.Now())
	r.Body = http.NoBody
}

// deadlineWriter writes a long response in chunks, each with its own write
// deadline: a client that reads steadily may take as long as it needs, one
// that stops reading for longer than timeout is cut off.
type deadlineWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	timeout time.Duration
	written int64
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if err := d.rc.SetWriteDeadline(time.Now().Add(d.timeout)); err != nil {
		return 0, err
	}
	n, err := d.w.Write(p)
	d.written += int64(n)
	return n, err
}
