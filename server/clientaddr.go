package server

import (
	"net/http"

	"github.com/deltasync/syncd/router"
)

// clientAddr names the client of a request wherever the server needs its
// address (today: the per-address connection cap, Limits.MaxConnsPerAddr).
// It is the one place that decides it: the TCP peer's host, from
// RemoteAddr. Behind a reverse proxy every client would share the proxy's
// address; making this function trust a proxy's X-Forwarded-For is the
// way to tell them apart, and every user of the address follows.
func clientAddr(r *http.Request) string { return router.RemoteHost(r) }
