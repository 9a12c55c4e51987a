package router_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// TestHeartbeatClosesWithinBound: a client that talked and then fell
// silent is closed between HeartbeatTimeout and HeartbeatTimeout +
// HeartbeatInterval after its last message (PROTOCOL.md §6.10), wherever
// that message falls between two ticks. The timeout is not a multiple of
// the interval, and the clients fall silent at offsets spread over one
// interval, so measuring silence from the tick that found a client alive
// (up to one interval after its last message) shows as a late close for
// some of them.
func TestHeartbeatClosesWithinBound(t *testing.T) {
	const (
		interval = 200 * time.Millisecond
		timeout  = 450 * time.Millisecond
		slack    = 60 * time.Millisecond // scheduling on a busy machine
		clients  = 5
	)
	ts := newServer(t, router.Options{HeartbeatInterval: interval, HeartbeatTimeout: timeout, CloseTimeout: 100 * time.Millisecond}, nil)
	var wg sync.WaitGroup
	results := make([]error, clients)
	for i := range clients {
		c := ts.dial()
		c.ws.SetPingHandler(func(string) error { return nil }) // never answers pings
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * interval / clients)
			last := time.Now()
			if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"__heartbeat"}`)); err != nil {
				results[i] = err
				return
			}
			for {
				c.ws.SetReadDeadline(time.Now().Add(3 * time.Second))
				if _, _, err := c.ws.ReadMessage(); err != nil {
					silent := time.Since(last)
					var ce *websocket.CloseError
					switch {
					case !errors.As(err, &ce) || ce.Code != protocol.CloseHeartbeatTimeout:
						results[i] = fmt.Errorf("ended with %v, want close %d", err, protocol.CloseHeartbeatTimeout)
					case silent < timeout || silent > timeout+interval+slack:
						results[i] = fmt.Errorf("closed after %v of silence, want between %v and %v", silent, timeout, timeout+interval)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range results {
		if err != nil {
			t.Errorf("client %d: %v", i, err)
		}
	}
}

// TestHeartbeatKeepsPongingClient: a client that sends nothing but answers
// every ping (an idle browser tab) stays connected with a timeout only half
// an interval longer than the interval: it is pinged at every tick it has
// been quiet at, so it is never silent much longer than one interval.
func TestHeartbeatKeepsPongingClient(t *testing.T) {
	// Long enough that the half interval of slack covers a pong's round
	// trip on a loaded machine under the race detector.
	const interval = 300 * time.Millisecond
	ts := newServer(t, router.Options{HeartbeatInterval: interval, HeartbeatTimeout: interval * 3 / 2, CloseTimeout: 100 * time.Millisecond}, nil)
	c := ts.dial() // gorilla's default ping handler answers with a pong
	ended := make(chan error, 1)
	go func() {
		for {
			c.ws.SetReadDeadline(time.Now().Add(20 * interval)) // pings do not end a read: past the wait below
			if _, _, err := c.ws.ReadMessage(); err != nil {
				ended <- err
				return
			}
		}
	}()
	select {
	case err := <-ended:
		t.Fatalf("the ponging client was closed: %v", err)
	case <-time.After(8 * interval):
	}
	if ts.r.Len() != 1 {
		t.Fatalf("%d connections, want 1", ts.r.Len())
	}
	c.ws.Close()
	<-ended
}
