package router_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/deltasync/syncd/router"
)

// What the admin page lists of a connection: its open time, its client
// address and its queued bytes, read from any goroutine while it serves.
func TestConnIntrospection(t *testing.T) {
	before := time.Now()
	ts := newServer(t, router.Options{}, nil)
	c := ts.dial()
	c.echo("ready")
	conns := ts.r.Conns()
	if len(conns) != 1 {
		t.Fatalf("%d conns, want 1", len(conns))
	}
	conn := conns[0]
	if o := conn.Opened(); o.Before(before) || o.After(time.Now()) {
		t.Errorf("Opened() = %v, want between %v and now", o, before)
	}
	if a := conn.ClientAddr(); a != "127.0.0.1" {
		t.Errorf("ClientAddr() = %q, want 127.0.0.1", a)
	}
	if q := conn.QueuedBytes(); q < 0 {
		t.Errorf("QueuedBytes() = %d", q)
	}
}

// SameOrigin: the Origin must name the server as reached, scheme and port
// included; no Origin is not same-origin.
func TestSameOrigin(t *testing.T) {
	req := func(host, origin string) *http.Request {
		r, _ := http.NewRequest("POST", "http://"+host+"/admin/api/x", nil)
		r.RemoteAddr = "127.0.0.1:5000"
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		return r
	}
	for _, c := range []struct {
		host, origin string
		want         bool
	}{
		{"127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"LocalHost:8080", "http://localhost:8080", true},
		{"example.com", "http://example.com:80", true},
		{"127.0.0.1:8080", "", false},
		{"127.0.0.1:8080", "null", false},
		{"127.0.0.1:8080", "https://127.0.0.1:8080", false},
		{"127.0.0.1:8080", "http://127.0.0.1:8081", false},
		{"127.0.0.1:8080", "http://evil.com:8080", false},
	} {
		if got := router.SameOrigin(req(c.host, c.origin), nil); got != c.want {
			t.Errorf("Host %s, Origin %q: SameOrigin = %v, want %v", c.host, c.origin, got, c.want)
		}
	}
}
