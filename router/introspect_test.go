package router_test

import (
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
