package router_test

import (
	"net/http"
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
