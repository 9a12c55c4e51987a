package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// env is a real server on 127.0.0.1 with an engine over a memstore.
type env struct {
	t      testing.TB
	engine *syncd.Engine
	store  syncd.Store
	server *server.Server
	http   *httptest.Server
	url    string // ws://127.0.0.1:port/ws
}

func newEnv(t testing.TB, eo syncd.Options, so server.Options) *env {
	t.Helper()
	st := memstore.New(memstore.Options{})
	return newEnvStore(t, st, eo, so)
}

func newEnvStore(t testing.TB, st syncd.Store, eo syncd.Options, so server.Options) *env {
	t.Helper()
	e, err := syncd.Open(st, eo)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(e, so)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	ev := &env{t: t, engine: e, store: st, server: srv, http: hs, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"}
	t.Cleanup(ev.close)
	return ev
}

func (ev *env) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ev.server.Shutdown(ctx)
	ev.http.Close()
	ev.engine.Close()
	ev.store.Close()
}

// client is a raw protocol client over a real WebSocket.
type client struct {
	t     testing.TB
	ws    *websocket.Conn
	hello protocol.Hello
}

type msg struct {
	Type    string          `json:"type"`
	Meta    json.RawMessage `json:"meta,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func (ev *env) dial(query string) *client {
	ev.t.Helper()
	c, resp, err := ev.tryDial(query, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		ev.t.Fatalf("dial %s: %v (HTTP %d)", query, err, status)
	}
	return c
}

func (ev *env) tryDial(query string, header http.Header) (*client, *http.Response, error) {
	url := ev.url
	if query != "" {
		url += "?" + query
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(url, header)
	if err != nil {
		return nil, resp, err
	}
	c := &client{t: ev.t, ws: ws}
	ev.t.Cleanup(func() { ws.Close() })
	m := c.read()
	if m.Type != protocol.TypeHello {
		ev.t.Fatalf("first message %s, want HELLO", m.Type)
	}
	if err := c.hello.UnmarshalPayload(m.Payload); err != nil {
		ev.t.Fatal(err)
	}
	return c, resp, nil
}

func (c *client) send(typ string, payload any) {
	c.t.Helper()
	b, err := json.Marshal(map[string]any{"type": typ, "meta": map[string]any{"timestamp": time.Now().UnixMilli()}, "payload": payload})
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next message, failing the test after 5 s.
func (c *client) read() msg {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m msg
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatalf("bad frame %s: %v", data, err)
	}
	return m
}

// expect reads messages until one of type typ, skipping PRESENCE unless
// asked for, and fails on anything else.
func (c *client) expect(typ string) msg {
	c.t.Helper()
	for {
		m := c.read()
		if m.Type == typ {
			return m
		}
		if m.Type == protocol.TypePresence {
			continue
		}
		c.t.Fatalf("got %s %s, want %s", m.Type, m.Payload, typ)
	}
}

func (c *client) expectError(code protocol.Code) protocol.ErrorPayload {
	c.t.Helper()
	m := c.expect(protocol.TypeError)
	var p protocol.ErrorPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		c.t.Fatal(err)
	}
	if p.Code != code {
		c.t.Fatalf("error %s (%s), want %s", p.Code, p.Message, code)
	}
	return p
}

func decodeAs[T any](t testing.TB, m msg) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(m.Payload, &v); err != nil {
		t.Fatalf("%s payload %s: %v", m.Type, m.Payload, err)
	}
	return v
}

// join joins doc from scratch and returns the snapshot.
func (c *client) join(doc string) protocol.SyncSnapshot {
	c.t.Helper()
	c.send(protocol.TypeJoin, map[string]any{"doc": doc})
	return decodeAs[protocol.SyncSnapshot](c.t, c.expect(protocol.TypeSyncSnapshot))
}
