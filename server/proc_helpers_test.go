package server_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd/internal/syncdproc"
)

// The attack and bounds tests (issue: nobody takes the server down) run the
// real syncd binary as a child process, built without -race, so that they
// can check what only a separate process shows: it is still up, and its
// resident memory stays under a bound the test states.

// startSyncd runs syncd with args (plus -addr 127.0.0.1:0, a temporary
// -data and -log-format json, unless args set them).
func startSyncd(t testing.TB, args ...string) *syncdproc.Proc {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a syncd process; skipped under -short")
	}
	return syncdproc.Start(t, syncdproc.Options{Args: args})
}

// dialProc connects to p and reads HELLO; it fails the test if it cannot.
func dialProc(t testing.TB, p *syncdproc.Proc, o dialOpts) *client {
	t.Helper()
	c, resp, err := dialURL(t, p.WS, o, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", p.WS, err, status)
	}
	return c
}

var bystanders atomic.Int64

// requireServes checks that p still serves everyone else: /healthz
// answers, and a new, unrelated client joins a fresh document, commits an
// edit and receives its echo within a second. o carries what that client
// needs to be let in (a token, when JWT is on).
func requireServes(t testing.TB, p *syncdproc.Proc, o dialOpts) {
	t.Helper()
	p.RequireUp()
	requireHealthz(t, p)
	start := time.Now()
	c := dialProc(t, p, o)
	defer c.ws.Close()
	doc := fmt.Sprintf("bystander/%d-%d", time.Now().UnixNano(), bystanders.Add(1))
	c.join(doc)
	c.edit(doc, map[string]any{"still": "serving"})
	if d := time.Since(start); d > time.Second {
		t.Fatalf("an unrelated client took %v to join, commit and hear back (want under 1s)", d)
	}
}

// requireRefused dials p with o and requires the upgrade to be refused
// with status, and returns the refusal.
func requireRefused(t testing.TB, p *syncdproc.Proc, o dialOpts, status int) *http.Response {
	t.Helper()
	c, resp, err := dialURL(t, p.WS, o, nil)
	if err == nil {
		c.ws.Close()
		t.Fatalf("upgrade with %+v accepted, want HTTP %d", o, status)
	}
	if resp == nil || resp.StatusCode != status {
		got := 0
		if resp != nil {
			got = resp.StatusCode
		}
		t.Fatalf("upgrade with %+v: %v (HTTP %d), want HTTP %d", o, err, got, status)
	}
	return resp
}

// requireHealthz checks that /healthz answers within a second.
func requireHealthz(t testing.TB, p *syncdproc.Proc) {
	t.Helper()
	hc := http.Client{Timeout: time.Second}
	resp, err := hc.Get(p.URL + "/healthz")
	if err != nil {
		t.Fatalf("/healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: HTTP %d", resp.StatusCode)
	}
}
