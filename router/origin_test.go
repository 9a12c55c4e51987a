package router_test

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/deltasync/syncd/router"
)

// The Host and Origin checks of the upgrade, over real sockets on
// 127.0.0.1: DNS rebinding, scheme mismatches, and which proxies' headers
// are believed.

// refusedWith dials with h and fails unless the upgrade is refused with
// status.
func (ts *testServer) refusedWith(h http.Header, status int) {
	ts.t.Helper()
	c, err := ts.tryDial(dialOpts{header: h})
	if err == nil {
		c.ws.Close()
		ts.t.Fatalf("upgrade with %v accepted, want HTTP %d", h, status)
	}
	if c == nil || c.resp == nil || c.resp.StatusCode != status {
		ts.t.Fatalf("upgrade with %v: %v, want HTTP %d", h, err, status)
	}
}

func TestDNSRebindingRefused(t *testing.T) {
	ts := newServer(t, router.Options{}, nil)
	self := ts.srv.Listener.Addr().String() // 127.0.0.1:port
	_, port, _ := strings.Cut(self, ":")
	// The rebinding page: its own name, resolved to 127.0.0.1.
	ts.refusedWith(http.Header{"Host": {"evil.com:" + port}, "Origin": {"http://evil.com:" + port}}, http.StatusMisdirectedRequest)
	ts.refusedWith(http.Header{"Host": {"evil.com"}}, http.StatusMisdirectedRequest)
	// The loopback names are the server's own.
	for _, host := range []string{self, "localhost:" + port, "LocalHost:" + port} {
		ts.dial(dialOpts{header: http.Header{"Host": {host}, "Origin": {"http://" + host}}}).echo("ok")
	}
}

func TestOriginSchemeAndPort(t *testing.T) {
	ts := newServer(t, router.Options{}, nil)
	self := ts.srv.Listener.Addr().String()
	_, port, _ := strings.Cut(self, ":")
	for origin, ok := range map[string]bool{
		"http://" + self:             true,
		"HTTP://" + self:             true,
		"https://" + self:            false, // the server is plain http: another origin
		"http://127.0.0.1":           false, // port 80
		"http://127.0.0.1:1" + port:  false,
		"http://localhost:" + port:   false, // another name is another origin
		"ws://" + self:               false, // not a page's scheme
		"http://" + self + "/path?q": true,  // a path is ignored (browsers send none)
	} {
		h := http.Header{"Origin": {origin}}
		if ok {
			ts.dial(dialOpts{header: h}).echo("ok")
		} else {
			ts.refusedWith(h, http.StatusForbidden)
		}
	}
}

// TestForwardedHeaders: X-Forwarded-* are believed from a trusted proxy
// only. The test's client plays the proxy, from 127.0.0.1.
func TestForwardedHeaders(t *testing.T) {
	var mu sync.Mutex
	var seen netip.Addr
	newProxied := func(o router.Options) *testServer {
		var ts *testServer
		o.Authenticate = func(a router.AuthRequest) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			seen = ts.r.ClientAddr(a.Request)
			return nil, nil
		}
		ts = newServer(t, o, nil)
		return ts
	}
	lastClient := func() netip.Addr { mu.Lock(); defer mu.Unlock(); return seen }
	hosts := mustHosts(t, "sync.example.com")
	forwarded := func(proto, origin string) http.Header {
		return http.Header{
			"X-Forwarded-For":   {"203.0.113.9"},
			"X-Forwarded-Proto": {proto},
			"X-Forwarded-Host":  {"sync.example.com"},
			"Origin":            {origin},
		}
	}

	t.Run("trusted", func(t *testing.T) {
		ts := newProxied(router.Options{AllowedHosts: hosts, TrustedProxies: mustProxies(t, "127.0.0.0/8")})
		ts.dial(dialOpts{header: forwarded("https", "https://sync.example.com")}).echo("through the proxy")
		if got := lastClient(); got != netip.MustParseAddr("203.0.113.9") {
			t.Fatalf("client address %v, want the forwarded 203.0.113.9", got)
		}
		// The page must be of the scheme the browser used.
		ts.refusedWith(forwarded("https", "http://sync.example.com"), http.StatusForbidden)
		ts.refusedWith(forwarded("http", "https://sync.example.com"), http.StatusForbidden)
		// The forwarded host is checked against the list.
		h := forwarded("https", "https://evil.com")
		h.Set("X-Forwarded-Host", "evil.com")
		ts.refusedWith(h, http.StatusMisdirectedRequest)
	})

	t.Run("untrusted", func(t *testing.T) {
		// Same headers, from an address that is not a trusted proxy:
		// ignored. The Host is 127.0.0.1:port, not in the list.
		ts := newProxied(router.Options{AllowedHosts: hosts, TrustedProxies: mustProxies(t, "10.0.0.0/8")})
		ts.refusedWith(forwarded("https", "https://sync.example.com"), http.StatusMisdirectedRequest)
		// With the default list: the Host passes, but the Origin is
		// compared with what really arrived (http, 127.0.0.1:port).
		ts = newProxied(router.Options{TrustedProxies: mustProxies(t, "10.0.0.0/8")})
		ts.refusedWith(forwarded("https", "https://sync.example.com"), http.StatusForbidden)
		h := forwarded("https", "http://"+ts.srv.Listener.Addr().String())
		ts.dial(dialOpts{header: h}).echo("direct")
		if got := lastClient(); got != netip.MustParseAddr("127.0.0.1") {
			t.Fatalf("client address %v, want the peer 127.0.0.1 (X-Forwarded-For not believed)", got)
		}
	})
}
