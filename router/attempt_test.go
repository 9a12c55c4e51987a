package router_test

import (
	"fmt"
	"testing"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// TestStaleAttemptDoesNotReplace: a connection attempt whose value is not
// greater than the live connection's (a delayed upgrade the client gave
// up on) is closed with CloseReplaced without opening, and the live
// connection stays; a greater one replaces it; one without a value
// replaces as before.
func TestStaleAttemptDoesNotReplace(t *testing.T) {
	rec := newRecorder()
	ts := newServer(t, router.Options{
		OnOpen:  func(c *router.Conn) { rec.add("open " + c.Attempt()) },
		OnClose: func(c *router.Conn, code int, _ string) { rec.add(fmt.Sprintf("close %s %d", c.Attempt(), code)) },
	}, nil)
	const id = "01HZY0J5Q8X6T9V3N2M4K7P1RA"
	q := func(attempt string) dialOpts {
		return dialOpts{query: map[string][]string{"clientId": {id}, "attempt": {attempt}}}
	}
	live := ts.dial(q("01HZY0J5Q8X6T9V3N2M4K7P1S2"))
	if e := rec.wait(t, "open"); e != "open 01HZY0J5Q8X6T9V3N2M4K7P1S2" {
		t.Fatalf("first: %s", e)
	}
	live.echo("one")

	for _, stale := range []string{"01HZY0J5Q8X6T9V3N2M4K7P1S1", "01HZY0J5Q8X6T9V3N2M4K7P1S2"} {
		old := ts.dial(q(stale))
		if code := old.closeCode(); code != protocol.CloseReplaced {
			t.Fatalf("stale attempt %s closed with %d, want %d", stale, code, protocol.CloseReplaced)
		}
		if e := rec.wait(t, ""); e != fmt.Sprintf("close %s %d", stale, protocol.CloseReplaced) {
			t.Fatalf("after the stale attempt: %s", e)
		}
		live.echo("still here")
	}
	if c, ok := ts.r.Conn(id); !ok || c.Attempt() != "01HZY0J5Q8X6T9V3N2M4K7P1S2" {
		t.Fatal("the live connection is no longer registered")
	}

	newer := ts.dial(q("01HZY0J5Q8X6T9V3N2M4K7P1S3"))
	if code := live.closeCode(); code != protocol.CloseReplaced {
		t.Fatalf("a newer attempt did not replace the live connection: %d", code)
	}
	rec.wait(t, "close")
	rec.wait(t, "open")
	newer.echo("two")

	plain := ts.dial(dialOpts{query: map[string][]string{"clientId": {id}}})
	if code := newer.closeCode(); code != protocol.CloseReplaced {
		t.Fatalf("an attempt without a value did not replace: %d", code)
	}
	plain.echo("three")

	bad, err := ts.tryDial(q("has space"))
	if err == nil || bad == nil || bad.resp == nil || bad.resp.StatusCode != 400 {
		t.Fatalf("a malformed attempt: %v", err)
	}
}
