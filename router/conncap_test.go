package router_test

import (
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd/router"
)

// TestConnCapPerAddr: past MaxConnsPerAddr an upgrade is refused with 503,
// Retry-After and Connection: close; a connection that ends frees its
// place.
func TestConnCapPerAddr(t *testing.T) {
	ts := newServer(t, router.Options{MaxConnsPerAddr: 2, MaxConns: -1, ConnRetryAfter: 7 * time.Second}, nil)
	a := ts.dial()
	ts.dial()
	requireCapRefusal(t, ts, "7")
	if total, from := ts.r.ConnCounts("127.0.0.1"); total != 2 || from != 2 {
		t.Fatalf("ConnCounts = %d, %d; want 2, 2", total, from)
	}
	a.ws.Close()
	waitCounts(t, ts.r, 1)
	ts.dial().echo("after")
}

// TestConnCapTotal: past MaxConns an upgrade is refused the same way,
// whatever the address.
func TestConnCapTotal(t *testing.T) {
	ts := newServer(t, router.Options{MaxConns: 3, MaxConnsPerAddr: -1}, nil)
	var first *client
	for i := range 3 {
		c := ts.dial()
		if i == 0 {
			first = c
		}
	}
	requireCapRefusal(t, ts, "5")
	first.ws.Close()
	waitCounts(t, ts.r, 2)
	ts.dial().echo("after")
}

func requireCapRefusal(t *testing.T, ts *testServer, retryAfter string) {
	t.Helper()
	c, err := ts.tryDial()
	if err == nil {
		t.Fatal("an upgrade past the cap was accepted")
	}
	if c == nil || c.resp == nil || c.resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("refused upgrade: %v, want HTTP 503", err)
	}
	h := c.resp.Header
	if h.Get("Retry-After") != retryAfter || !c.resp.Close {
		t.Fatalf("refusal headers %v: want Retry-After %s and Connection: close", h, retryAfter)
	}
}

// waitCounts waits until the router counts total connections.
func waitCounts(t *testing.T, r *router.Router, total int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, _ := r.ConnCounts("127.0.0.1"); n == total {
			return
		}
		if time.Now().After(deadline) {
			n, _ := r.ConnCounts("127.0.0.1")
			t.Fatalf("ConnCounts %d, want %d", n, total)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConnCapPerAddrCountsIPv6Networks: the cap counts an IPv6 client by
// its /64, which it can fill with addresses at will; other /64s and IPv4
// addresses are counted apart, and an IPv4-mapped address as its IPv4.
func TestConnCapPerAddrCountsIPv6Networks(t *testing.T) {
	ts := newServer(t, router.Options{MaxConnsPerAddr: 2, MaxConns: -1, ConnRetryAfter: time.Second,
		ClientAddr: func(req *http.Request) string { return req.Header.Get("X-Test-Addr") }}, nil)
	from := func(addr string) dialOpts { return dialOpts{header: http.Header{"X-Test-Addr": {addr}}} }
	ts.dial(from("2001:db8:1:2::1"))
	ts.dial(from("2001:db8:1:2:ffff:ffff:ffff:ffff"))
	c, err := ts.tryDial(from("2001:db8:1:2::abcd"))
	if err == nil || c == nil || c.resp == nil || c.resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a third connection from one /64 was not refused: %v", err)
	}
	if body, _ := io.ReadAll(c.resp.Body); !strings.Contains(string(body), "2001:db8:1:2::/64") {
		t.Errorf("refusal %q does not name the /64", body)
	}
	if _, from64 := ts.r.ConnCounts("2001:db8:1:2::99"); from64 != 2 {
		t.Errorf("ConnCounts of an address in the /64 = %d, want 2", from64)
	}
	ts.dial(from("2001:db8:1:3::1")).echo("another /64")
	ts.dial(from("192.0.2.7"))
	ts.dial(from("::ffff:192.0.2.7"))
	if _, err := ts.tryDial(from("192.0.2.7")); err == nil {
		t.Fatal("a third connection from one IPv4 address (one of them IPv4-mapped) was accepted")
	}
	ts.dial(from("192.0.2.8")).echo("the next IPv4 address")
}

func TestAddrGroup(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::",
		"2001:db8:1:2::":       "2001:db8:1:2::",
		"fe80::1%eth0":         "fe80::",
		"::1":                  "::",
	} {
		if got := router.AddrGroup(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("AddrGroup(%s) = %s, want %s", in, got, want)
		}
	}
}
