package router

import (
	"net/http"
	"net/url"
	"strings"
)

// Origins. A browser names the page that opens a WebSocket in the Origin
// header, and (unlike fetch) does not stop a page from connecting
// anywhere: the server must. An origin is scheme, host and port together
// (RFC 6454): a page of http://sync.example.com is not the same origin as
// the server at https://sync.example.com, since anyone on the network can
// write the plain-http page.

// checkOrigin allows requests without an Origin header (not browsers),
// same-origin requests (the Origin equals the server's own origin as the
// client reached it: the scheme and Host from a trusted proxy's
// X-Forwarded-Proto and X-Forwarded-Host, else from the connection), and
// origins in Options.AllowedOrigins.
func (r *Router) checkOrigin(req *http.Request) bool {
	origin := req.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := RequestScheme(req, r.opts.TrustedProxies)
	if sameOrigin(u, scheme, RequestHost(req, r.opts.TrustedProxies)) {
		return true
	}
	for _, allowed := range r.opts.AllowedOrigins {
		if originMatches(allowed, u) {
			return true
		}
	}
	return false
}

// SameOrigin reports whether req carries an Origin header naming the
// server's own origin, as the client reached it (the scheme and Host from a
// trusted proxy's X-Forwarded-Proto and X-Forwarded-Host, else from the
// connection). A request without an Origin is not same-origin here: callers
// use it to check that a state-changing request comes from their own page.
func SameOrigin(req *http.Request, trusted TrustedProxies) bool {
	u, err := url.Parse(req.Header.Get("Origin"))
	if err != nil || u.Host == "" {
		return false
	}
	return sameOrigin(u, RequestScheme(req, trusted), RequestHost(req, trusted))
}

// sameOrigin reports whether origin is scheme://host, comparing the host
// without regard to case and a port left out as the scheme's default.
func sameOrigin(origin *url.URL, scheme, host string) bool {
	if !strings.EqualFold(origin.Scheme, scheme) {
		return false
	}
	name, port := splitHost(host)
	if port == "" {
		port = defaultPort(scheme)
	}
	oport := origin.Port()
	if oport == "" {
		oport = defaultPort(scheme)
	}
	return oport == port && normalName(origin.Hostname()) == normalName(name)
}

// originMatches matches an origin against one AllowedOrigins pattern:
// "*", "scheme://host[:port]", or "scheme://*.domain[:port]".
func originMatches(pattern string, origin *url.URL) bool {
	if pattern == "*" {
		return true
	}
	p, err := url.Parse(pattern)
	if err != nil || !strings.EqualFold(p.Scheme, origin.Scheme) {
		return false
	}
	host, port := strings.ToLower(p.Hostname()), p.Port()
	if port != origin.Port() {
		return false
	}
	got := strings.ToLower(origin.Hostname())
	if suffix, ok := strings.CutPrefix(host, "*."); ok {
		return strings.HasSuffix(got, "."+suffix)
	}
	return got == host
}
