package router_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/deltasync/syncd/internal/testenv"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testServer is a router served on 127.0.0.1 (testenv.Serve), shut down
// (and checked to have stopped) when the test ends.
type testServer struct {
	t      testing.TB
	r      *router.Router
	srv    *httptest.Server
	url    string // ws://127.0.0.1:port/ws
	events chan string
}

// echo is the payload of the test routes.
type echo struct {
	Text string `json:"text"`
	N    int    `json:"n,omitempty"`
}

// newServer starts a router with opts; setup registers routes. Every test
// server has ECHO (replies ECHOED), NOTE (no answer) and FAIL (returns
// the error named in text) unless setup registered them itself.
func newServer(t testing.TB, opts router.Options, setup func(*router.Router)) *testServer {
	t.Helper()
	ts := &testServer{t: t, events: make(chan string, 1000)}
	r := router.New(opts)
	if setup != nil {
		setup(r)
	}
	router.HandleRPC(r, "ECHO", "ECHOED", func(x *router.Ctx, p echo) (echo, error) {
		return p, nil
	})
	router.Handle(r, "NOTE", func(x *router.Ctx, p echo) error { return nil })
	router.Handle(r, "FAIL", func(x *router.Ctx, p echo) error {
		return protocol.NewError(protocol.Code(p.Text), "failed on purpose")
	})
	ts.r = r
	mux := http.NewServeMux()
	mux.Handle("/ws", r)
	h := testenv.Serve(t, mux)
	ts.srv, ts.url = h.Srv, h.URL
	shutdownAtEnd(t, r) // before the listener closes: cleanups run last first
	return ts
}

// shutdownAtEnd shuts r down when the test ends, failing it if r does not
// stop in time.
func shutdownAtEnd(t testing.TB, r *router.Router) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*testenv.Timeout)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
}

// client is a test WebSocket client (testenv.Conn) that behaves like
// ws-kit's: every message it sends carries meta.timestamp, and every
// message it receives is checked against ws-kit's strict schemas (no
// unknown top-level keys, no meta keys beyond timestamp and correlationId,
// no null anywhere).
type client struct {
	*testenv.Conn
	t    testing.TB
	ws   *websocket.Conn
	resp *http.Response
}

type dialOpts struct {
	query     url.Values
	header    http.Header
	protocols []string
	tls       *tls.Config
}

func (ts *testServer) dial(opts ...dialOpts) *client {
	ts.t.Helper()
	c, err := ts.tryDial(opts...)
	if err != nil {
		ts.t.Fatalf("dial: %v", err)
	}
	return c
}

func (ts *testServer) tryDial(opts ...dialOpts) (*client, error) {
	var o dialOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	return dialStrict(ts.t, ts.url, o)
}

// dialStrict connects to wsURL; a refused upgrade returns a client with
// only the response.
func dialStrict(t testing.TB, wsURL string, o dialOpts) (*client, error) {
	conn, resp, err := testenv.DialWS(t, wsURL, testenv.WSOptions{
		Query: o.query, Header: o.header, Protocols: o.protocols, TLS: o.tls,
		Check: func(b []byte) error { checkStrict(t, b); return nil },
	})
	if err != nil {
		if resp != nil {
			return &client{t: t, resp: resp}, err
		}
		return nil, err
	}
	return &client{Conn: conn, t: t, ws: conn.WS, resp: resp}, nil
}

// sendRaw writes one text frame.
func (c *client) sendRaw(s string) {
	c.t.Helper()
	c.SendRaw(s)
}

// send writes a message as ws-kit's client does: meta.timestamp always,
// correlationId when given.
func (c *client) send(typ, correlationID string, payload any) {
	c.t.Helper()
	c.Send(typ, correlationID, payload)
}

// msg is a received message.
type msg = testenv.Msg

func errorPayload(t testing.TB, m msg) protocol.ErrorPayload {
	t.Helper()
	var p protocol.ErrorPayload
	if err := p.UnmarshalPayload(m.Payload); err != nil {
		t.Fatalf("error payload %s: %v", m.Payload, err)
	}
	return p
}

// read returns the next message, failing the test after testenv.Timeout.
func (c *client) read() msg {
	c.t.Helper()
	return c.Read()
}

func (c *client) tryRead(timeout time.Duration) (msg, error) { return c.TryRead(timeout) }

// expect reads the next message and checks its type.
func (c *client) expect(typ string) msg {
	c.t.Helper()
	return c.Next(typ)
}

// expectError reads an ERROR (or RPC_ERROR when cid is set) with code.
func (c *client) expectError(cid string, code protocol.Code) protocol.ErrorPayload {
	c.t.Helper()
	want := protocol.TypeError
	if cid != "" {
		want = protocol.TypeRPCError
	}
	m := c.expect(want)
	if m.CorrelationID() != cid {
		c.t.Fatalf("correlationId %q, want %q", m.CorrelationID(), cid)
	}
	p := errorPayload(c.t, m)
	if p.Code != code {
		c.t.Fatalf("error %s, want code %s", m.Raw, code)
	}
	return p
}

// echo does an ECHO round trip, proving the connection works.
func (c *client) echo(text string) {
	c.t.Helper()
	cid := "echo-" + text
	c.send("ECHO", cid, map[string]any{"text": text})
	m := c.expect("ECHOED")
	if m.CorrelationID() != cid || !strings.Contains(string(m.Payload), text) {
		c.t.Fatalf("echo: %s", m.Raw)
	}
}

// closeCode reads until the connection closes and returns the close code;
// a connection that ends without a close frame fails the test.
func (c *client) closeCode() int {
	c.t.Helper()
	code := c.CloseCode()
	if code == protocol.CloseAbnormal {
		c.t.Fatal("connection ended without a close frame")
	}
	return code
}

// checkStrict checks a server message against ws-kit's strict schemas.
func checkStrict(t testing.TB, b []byte) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatalf("not a JSON object: %s", b)
	}
	var typ string
	json.Unmarshal(top["type"], &typ)
	for k := range top {
		if k != "type" && k != "meta" && k != "payload" {
			t.Errorf("unknown top-level key %q in %s", k, b)
		}
	}
	if raw, ok := top["meta"]; ok {
		var meta map[string]json.RawMessage
		if err := json.Unmarshal(raw, &meta); err != nil || meta == nil {
			t.Errorf("meta is not an object in %s", b)
		}
		for k := range meta {
			allowed := k == "timestamp" || k == "correlationId"
			if typ == protocol.TypeHeartbeatAck {
				allowed = k == "ts"
			}
			if !allowed {
				t.Errorf("meta key %q in %s", k, b)
			}
		}
		if typ != protocol.TypeHeartbeatAck {
			if _, ok := meta["timestamp"]; !ok {
				t.Errorf("no meta.timestamp in %s", b)
			}
		}
	} else if typ != protocol.TypeHeartbeatAck {
		t.Errorf("no meta in %s", b)
	}
	if strings.Contains(string(b), "null") {
		t.Errorf("null in %s", b)
	}
}

// recorder collects hook calls for tests, safely.
type recorder struct {
	mu     sync.Mutex
	events []string
	ch     chan string
}

func newRecorder() *recorder { return &recorder{ch: make(chan string, 1000)} }

func (r *recorder) add(e string) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	r.ch <- e
}

// wait waits for an event with the given prefix.
func (r *recorder) wait(t testing.TB, prefix string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-r.ch:
			if strings.HasPrefix(e, prefix) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %q event; got %v", prefix, r.all())
		}
	}
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}
