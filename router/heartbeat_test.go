package router_test

import (
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

func TestHeartbeatAck(t *testing.T) {
	ts := newServer(t, router.Options{}, nil)
	c := ts.dial()
	before := time.Now().UnixMilli()
	c.sendRaw(`{"type":"__heartbeat"}`)
	m := c.expect(protocol.TypeHeartbeatAck)
	var exact struct {
		Type string           `json:"type"`
		Meta map[string]int64 `json:"meta"`
	}
	if err := json.Unmarshal(m.Raw, &exact); err != nil {
		t.Fatal(err)
	}
	if len(exact.Meta) != 1 || exact.Meta["ts"] < before || m.Payload != nil {
		t.Fatalf("ack %s", m.Raw)
	}
	// With ws-kit's meta.timestamp too.
	c.send("__heartbeat", "", nil)
	c.expect(protocol.TypeHeartbeatAck)
}

// TestHeartbeatKeepsAnsweringClientAlive: a client that reads (and so
// answers pings with pongs) but sends nothing stays connected well past
// the timeout, and gets pinged.
func TestHeartbeatKeepsAnsweringClientAlive(t *testing.T) {
	rec := newRecorder()
	ts := newServer(t, router.Options{
		HeartbeatInterval: 50 * time.Millisecond,
		// Room for a pong's round trip on a loaded machine: the client
		// stays connected only because it answers pings.
		HeartbeatTimeout: 300 * time.Millisecond,
		OnClose:          func(c *router.Conn, code int, _ string) { rec.add("close " + strconv.Itoa(code)) },
	}, nil)
	c := ts.dial()
	var pings atomic.Int32
	c.ws.SetPingHandler(func(data string) error {
		pings.Add(1)
		return c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	msgs := make(chan []byte, 10)
	go func() {
		defer close(msgs)
		for {
			_, b, err := c.ws.ReadMessage()
			if err != nil {
				return
			}
			msgs <- b
		}
	}()
	time.Sleep(900 * time.Millisecond) // three timeouts
	if n := pings.Load(); n < 3 {
		t.Fatalf("%d pings in 900ms at a 50ms interval", n)
	}
	c.send("ECHO", "e", map[string]any{"text": "alive"})
	select {
	case b, ok := <-msgs:
		if !ok {
			t.Fatalf("connection closed: %v", rec.all())
		}
		checkStrict(t, b)
	case <-time.After(5 * time.Second):
		t.Fatal("no echo")
	}
	c.ws.Close()
	<-msgs
}

// TestHeartbeatExpiry: a client that neither sends nor answers pings is
// closed with CloseHeartbeatTimeout, and OnStale runs before OnClose.
func TestHeartbeatExpiry(t *testing.T) {
	rec := newRecorder()
	ts := newServer(t, router.Options{
		HeartbeatInterval: 20 * time.Millisecond,
		HeartbeatTimeout:  60 * time.Millisecond,
		CloseTimeout:      100 * time.Millisecond,
		OnStale:           func(c *router.Conn) { rec.add("stale") },
		OnClose:           func(c *router.Conn, code int, _ string) { rec.add("close " + strconv.Itoa(code)) },
	}, nil)
	silent := ts.dial() // reads nothing until the end, and never answers pings
	silent.ws.SetPingHandler(func(string) error { return nil })
	talker := ts.dial()
	talker.ws.SetPingHandler(func(string) error { return nil }) // ignores pings, but talks
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			if talker.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"__heartbeat"}`)) != nil {
				return
			}
		}
	}()
	if e := rec.wait(t, ""); e != "stale" {
		t.Fatalf("first event %q", e)
	}
	if e := rec.wait(t, ""); e != "close "+strconv.Itoa(protocol.CloseHeartbeatTimeout) {
		t.Fatalf("then %q", e)
	}
	if code := silent.closeCode(); code != protocol.CloseHeartbeatTimeout {
		t.Fatalf("silent client saw close %d", code)
	}
	close(stop)
	<-done
	// The talker, which only ever sent __heartbeat, is still connected.
	if ts.r.Len() != 1 {
		t.Fatalf("%d connections left", ts.r.Len())
	}
}
