package client_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
)

// TestCloseLeavesNoGoroutine: after Close, nothing of the client runs,
// even with a connection dropped and a retry timer pending.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	p := newProxy(t, ev.addr)
	before := goleak.IgnoreCurrent()
	c := dial(t, p.url, nil)
	d := join(t, c, "doc")
	if err := d.SetPresence(ctxT(t), map[string]bool{"here": true}); err != nil {
		t.Fatal(err)
	}
	d.Merge(`{"a":1}`)
	p.dropAll()
	d.Merge(`{"b":2}`)
	c.Close()
	c.Close() // twice is fine
	p.close()
	if _, err := d.Merge(`{"c":3}`); err == nil {
		t.Fatal("edit after Close: no error")
	}
	// The server notices the dropped connections in its own time; its
	// goroutines are checked by TestMain when it shuts down.
	goleak.VerifyNone(t, before, goleak.IgnoreTopFunction("github.com/deltasync/syncd/router.(*Router).heartbeatLoop"))
}

func TestLeave(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	c := dial(t, ev.url, nil)
	d := join(t, c, "doc")
	d.Merge(`{"a":1}`)
	converged(t, ev, "doc", d)
	d.Leave()
	if _, err := d.Merge(`{"b":1}`); err == nil {
		t.Fatal("edit after Leave: no error")
	}
	ev.commit("doc", map[string]int{"c": 1})
	d2 := join(t, c, "doc") // a new handle, from a snapshot
	converged(t, ev, "doc", d2)
	if d.Rev() != 1 {
		t.Fatalf("left handle moved to %d", d.Rev())
	}
}
