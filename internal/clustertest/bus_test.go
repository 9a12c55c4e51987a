package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"

	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/protocol"
)

// The cluster bus's timing in TestCluster: short, so that the presence of
// a killed instance's clients goes within seconds. The documented bound
// (docs/cluster-bus.md) is the peer timeout plus one heartbeat.
const (
	testBusHeartbeat   = 250 * time.Millisecond
	testBusPeerTimeout = 1500 * time.Millisecond
	presenceBound      = testBusPeerTimeout + testBusHeartbeat
	// schedulingSlack is what a loaded machine may add to a timer of the
	// instance that notices (and to the kill and the client's read).
	schedulingSlack = time.Second
)

// busArgs are the flags that set that timing.
var busArgs = []string{"-bus-heartbeat", testBusHeartbeat.String(), "-bus-peer-timeout", testBusPeerTimeout.String()}

// dialOne connects an SDK client to one instance only (no failover: a
// client of a killed instance must not move its presence elsewhere).
func dialOne(t *testing.T, n *Node) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{URL: n.WS(), Logger: slog.New(slog.DiscardHandler),
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("dial %s: %v", n.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitRoom waits (bounded) until cond holds for d's room; it returns how
// long that took.
func waitRoom(t *testing.T, d *client.Doc, timeout time.Duration, what string, cond func(map[string]json.RawMessage) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond(d.Presence()) {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v; the room is %v", what, timeout, d.Presence())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// presenceOfKilledInstance: a client on node a sets its presence in a
// document, a client on node b sees it; node a is killed (SIGKILL, so no
// goodbye on the bus); b's client sees the presence go within the bound
// (-bus-peer-timeout plus one -bus-heartbeat), plus scheduling slack.
// Node a is started again afterwards.
func presenceOfKilledInstance(t *testing.T, c *Cluster, a, b int) {
	const doc = "cluster/presence"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ca, cb := dialOne(t, c.Nodes[a]), dialOne(t, c.Nodes[b])
	da, err := ca.Join(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	db, err := cb.Join(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := da.SetPresence(ctx, map[string]string{"cursor": "here"}); err != nil {
		t.Fatal(err)
	}
	who := ca.AuthorID()
	waitRoom(t, db, 10*time.Second, "node "+c.Nodes[b].Name+"'s client sees the presence set on "+c.Nodes[a].Name, func(r map[string]json.RawMessage) bool {
		_, ok := r[who]
		return ok
	})
	c.Kill(a)
	took := waitRoom(t, db, presenceBound+schedulingSlack, "the presence of the killed instance's client goes", func(r map[string]json.RawMessage) bool {
		_, ok := r[who]
		return !ok
	})
	t.Logf("presence of a client of the killed instance gone after %v (bound %v)", took.Round(time.Millisecond), presenceBound)
	ca.Close()
	if err := c.Restart(a); err != nil {
		t.Fatal(err)
	}
}

// rawConn is a WebSocket to an instance with a chosen client id and
// attempt, read by hand: the SDK would reconnect after a 4409.
func rawConn(t *testing.T, n *Node, clientID, attempt string) *websocket.Conn {
	t.Helper()
	q := url.Values{"clientId": {clientID}, "attempt": {attempt}}
	ws, resp, err := websocket.DefaultDialer.Dial(n.WS()+"?"+q.Encode(), nil)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
		}
		t.Fatalf("dial %s: %v", n.Name, err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// readUntilClose reads frames until the connection closes, and returns its
// close code (or 0 and the error if it ended otherwise or timed out).
func readUntilClose(ws *websocket.Conn, timeout time.Duration) (int, error) {
	ws.SetReadDeadline(time.Now().Add(timeout))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, nil
			}
			return 0, err
		}
	}
}

// oneConnectionPerClient: a client id connected to node a, then the same
// id with a newer attempt to node b: a's connection is closed with 4409
// (replaced), b's stays.
func oneConnectionPerClient(t *testing.T, c *Cluster, a, b int) {
	id := ulid.Make().String()
	older := rawConn(t, c.Nodes[a], id, "attempt-1")
	if _, _, err := older.ReadMessage(); err != nil { // HELLO: the connection is live
		t.Fatal(err)
	}
	newer := rawConn(t, c.Nodes[b], id, "attempt-2")
	if _, _, err := newer.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, err := readUntilClose(older, 10*time.Second)
	if code != protocol.CloseReplaced {
		t.Fatalf("the older connection on %s ended with code %d (%v), want %d", c.Nodes[a].Name, code, err, protocol.CloseReplaced)
	}
	t.Logf("the older connection on %s closed with %d after %v", c.Nodes[a].Name, code, time.Since(start).Round(time.Millisecond))
	// The newer one still serves: it answers a ping of the protocol.
	newer.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, _, err := newer.ReadMessage(); err != nil {
		var ne interface{ Timeout() bool }
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("the newer connection on %s ended: %v", c.Nodes[b].Name, err)
		}
	}
}
