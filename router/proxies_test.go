package router_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/deltasync/syncd/router"
)

// Trusted proxies: whose X-Forwarded-* headers are believed, and what they
// give (the client's address, the scheme, the host).

func mustProxies(t *testing.T, list ...string) router.TrustedProxies {
	t.Helper()
	tp, err := router.ParseTrustedProxies(list)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func TestParseTrustedProxies(t *testing.T) {
	tp := mustProxies(t, "10.0.0.0/8", " 192.0.2.7 ", "fd00::/8", "::ffff:198.51.100.0/120", "")
	for addr, want := range map[string]bool{
		"10.200.0.1": true, "11.0.0.1": false, "192.0.2.7": true, "192.0.2.8": false,
		"fd12::1": true, "fe80::1": false, "198.51.100.42": true, "::ffff:10.0.0.1": true,
	} {
		if got := tp.Contains(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", addr, got, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example.com", "10.0.0", "10.0.0.1:80", "*"} {
		if _, err := router.ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if tp, err := router.ParseTrustedProxies(nil); err != nil || tp != nil {
		t.Errorf("empty list: %v %v", tp, err)
	}
}

func TestClientAddr(t *testing.T) {
	trusted := mustProxies(t, "10.0.0.0/8", "127.0.0.1")
	for _, tc := range []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"no proxy", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"untrusted peer's header ignored", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"trusted proxy", "10.0.0.2:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted proxy without the header", "10.0.0.2:4000", nil, "10.0.0.2"},
		{"client-written entries to the left ignored", "10.0.0.2:4000", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"chain of trusted proxies", "127.0.0.1:4000", []string{"1.1.1.1, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several header lines", "10.0.0.2:4000", []string{"1.1.1.1", "198.51.100.1, 10.1.1.1"}, "198.51.100.1"},
		{"all trusted: the leftmost", "10.0.0.2:4000", []string{"10.3.3.3, 10.4.4.4"}, "10.3.3.3"},
		{"garbage: the last trusted hop", "10.0.0.2:4000", []string{"198.51.100.1, unknown"}, "10.0.0.2"},
		{"garbage behind a trusted hop", "10.0.0.2:4000", []string{"junk, 10.5.5.5"}, "10.5.5.5"},
		{"IPv6 with brackets and port", "10.0.0.2:4000", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv4 with a port", "10.0.0.2:4000", []string{"198.51.100.1:5555"}, "198.51.100.1"},
		{"mapped IPv4 peer", "[::ffff:10.0.0.2]:4000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"IPv6 peer", "[2001:db8::9]:4000", nil, "2001:db8::9"},
	} {
		r := httptest.NewRequest("GET", "/ws", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := router.ClientAddr(r, trusted); got.String() != tc.want {
			t.Errorf("%s: ClientAddr = %v, want %s", tc.name, got, tc.want)
		}
	}
	r := httptest.NewRequest("GET", "/ws", nil)
	r.RemoteAddr = "@"
	if got := router.ClientAddr(r, trusted); got.IsValid() {
		t.Errorf("RemoteAddr %q: %v, want the zero Addr", r.RemoteAddr, got)
	}
}

func TestRequestSchemeAndHost(t *testing.T) {
	trusted := mustProxies(t, "10.0.0.0/8")
	for _, tc := range []struct {
		name       string
		remote     string
		tls        bool
		proto      []string
		fwdHost    []string
		wantScheme string
		wantHost   string
	}{
		{"plain", "203.0.113.5:1", false, nil, nil, "http", "direct.example"},
		{"TLS", "203.0.113.5:1", true, nil, nil, "https", "direct.example"},
		{"untrusted headers ignored", "203.0.113.5:1", false, []string{"https"}, []string{"evil.example"}, "http", "direct.example"},
		{"untrusted cannot downgrade", "203.0.113.5:1", true, []string{"http"}, nil, "https", "direct.example"},
		{"trusted proxy", "10.0.0.2:1", false, []string{"https"}, []string{"sync.example.com"}, "https", "sync.example.com"},
		{"wss counts as https", "10.0.0.2:1", false, []string{"wss"}, nil, "https", "direct.example"},
		{"the nearest proxy's word", "10.0.0.2:1", false, []string{"http, https"}, []string{"evil.example, sync.example.com"}, "https", "sync.example.com"},
		{"unknown proto ignored", "10.0.0.2:1", true, []string{"gopher"}, nil, "https", "direct.example"},
	} {
		r := httptest.NewRequest("GET", "http://direct.example/ws", nil)
		r.RemoteAddr = tc.remote
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		for _, v := range tc.proto {
			r.Header.Add("X-Forwarded-Proto", v)
		}
		for _, v := range tc.fwdHost {
			r.Header.Add("X-Forwarded-Host", v)
		}
		if got := router.RequestScheme(r, trusted); got != tc.wantScheme {
			t.Errorf("%s: scheme %q, want %q", tc.name, got, tc.wantScheme)
		}
		if got := router.RequestHost(r, trusted); got != tc.wantHost {
			t.Errorf("%s: host %q, want %q", tc.name, got, tc.wantHost)
		}
	}
}

// withLocalAddr gives r the local address of the connection it "arrived"
// on, as net/http does.
func withLocalAddr(r *http.Request, addr string) *http.Request {
	if addr == "" {
		return r
	}
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		panic(err)
	}
	return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, tcp))
}
