package router_test

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// startMessage opens a text message on c and writes the first n bytes of
// an ECHO with correlationId cid (gorilla sends them as non-final frames
// as its write buffer fills); the caller finishes it with finishEcho, or
// never.
func startMessage(t *testing.T, c *client, cid string, n int) (io.WriteCloser, string) {
	t.Helper()
	text := strings.Repeat("a", n)
	head, _ := json.Marshal(map[string]any{"type": "ECHO", "meta": map[string]any{"correlationId": cid}})
	msg := string(head[:len(head)-1]) + `,"payload":{"text":"` + text + `"}}`
	w, err := c.ws.NextWriter(websocket.TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, msg[:n]); err != nil {
		t.Fatal(err)
	}
	return w, msg[n:]
}

// TestMessageDeadline: a message that does not arrive whole within
// MessageTimeout closes the connection with 1013, pings or not; one that
// arrives in pieces within it is handled, and the deadline ends with it.
func TestMessageDeadline(t *testing.T) {
	ts := newServer(t, router.Options{MessageTimeout: 300 * time.Millisecond}, nil)

	// In pieces, within the deadline.
	ok := ts.dial()
	w, rest := startMessage(t, ok, "slow", 16<<10)
	time.Sleep(100 * time.Millisecond)
	io.WriteString(w, rest)
	w.Close()
	if m := ok.expect("ECHOED"); m.CorrelationID() != "slow" {
		t.Fatalf("got %s", m.Raw)
	}
	time.Sleep(400 * time.Millisecond) // idle past the deadline: no message, no deadline
	ok.echo("still-open")

	// Never finished, with pings to look alive.
	bad := ts.dial()
	start := time.Now()
	startMessage(t, bad, "never", 16<<10)
	for range 3 {
		bad.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second))
		time.Sleep(50 * time.Millisecond)
	}
	if code := bad.closeCode(); code != protocol.CloseTryAgainLater {
		t.Fatalf("close code %d, want 1013", code)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Fatalf("closed after %v; want the 300ms deadline", d)
	}
	waitPartial(t, ts.r, 0)
	ok.echo("unaffected")
}

// TestPartialBytesBudget: the bytes of partly received messages across all
// connections stay within MaxPartialBytes; the connection that would pass
// it is closed with 1013, and the others go on.
func TestPartialBytesBudget(t *testing.T) {
	ts := newServer(t, router.Options{MaxPartialBytes: 48 << 10, MessageTimeout: -1}, nil)
	holder := ts.dial()
	w, rest := startMessage(t, holder, "held", 32<<10)
	waitPartialAtLeast(t, ts.r, 24<<10)

	greedy := ts.dial()
	startMessage(t, greedy, "greedy", 32<<10)
	if code := greedy.closeCode(); code != protocol.CloseTryAgainLater {
		t.Fatalf("close code %d, want 1013", code)
	}
	if n := ts.r.PartialBytes(); n > 48<<10 {
		t.Fatalf("%d partial bytes, budget 48 KiB", n)
	}

	// The holder finishes its message and is answered.
	io.WriteString(w, rest)
	w.Close()
	if m := holder.expect("ECHOED"); m.CorrelationID() != "held" {
		t.Fatalf("got %s", m.Raw)
	}
	waitPartial(t, ts.r, 0)
	ts.dial().echo("after")
}

func waitPartial(t *testing.T, r *router.Router, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.PartialBytes() != want {
		if time.Now().After(deadline) {
			t.Fatalf("PartialBytes %d, want %d", r.PartialBytes(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitPartialAtLeast(t *testing.T, r *router.Router, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.PartialBytes() < want {
		if time.Now().After(deadline) {
			t.Fatalf("PartialBytes %d, want at least %d", r.PartialBytes(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
