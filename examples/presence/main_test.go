package presence_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/deltasync/syncd/examples/presence"
	"github.com/deltasync/syncd/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wait bounds every wait for a message: generous, since it only matters
// when a test is failing.
const wait = 10 * time.Second

// fakeClock is the App's clock in tests, so that lastActive is known.
type fakeClock struct{ ms atomic.Int64 }

func newClock(ms int64) *fakeClock {
	c := &fakeClock{}
	c.ms.Store(ms)
	return c
}

func (c *fakeClock) Now() time.Time { return time.UnixMilli(c.ms.Load()) }
func (c *fakeClock) Set(ms int64)   { c.ms.Store(ms) }

// testApp is a running App behind an httptest server on 127.0.0.1:0.
type testApp struct {
	t   *testing.T
	app *presence.App
	url string // ws://127.0.0.1:port/ws
}

// startApp runs an App with opts until the test ends. Unless opts says
// otherwise, the flood guard is off (tests send fast on purpose).
func startApp(t *testing.T, opts presence.Options) *testApp {
	t.Helper()
	if opts.MessagesPerSecond == 0 {
		opts.MessagesPerSecond = -1
	}
	app, err := presence.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := testenv.Serve(t, app.Handler())
	t.Cleanup(func() { // before the listener closes: cleanups run last first
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return &testApp{t: t, app: app, url: srv.URL}
}

// state returns the meeting as the server has it.
func (ta *testApp) state() presence.State {
	ta.t.Helper()
	st, err := ta.app.State(context.Background())
	if err != nil {
		ta.t.Fatalf("State: %v", err)
	}
	return st
}

// msg is a message from the server, as a seed client sees it.
type msg struct {
	Type    string          `json:"type"`
	Meta    json.RawMessage `json:"meta"`
	Payload json.RawMessage `json:"payload"`
}

func (m msg) String() string { return m.Type + " " + string(m.Payload) }

// decode decodes the payload into v, failing the test if it does not.
func (m msg) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(m.Payload, v); err != nil {
		t.Fatalf("%s: payload does not decode: %v", m, err)
	}
}

// client is a WebSocket client whose reader goroutine runs for the whole
// connection, so that it answers the router's pings as a browser does.
type client struct {
	t    *testing.T
	ws   *websocket.Conn
	in   chan msg
	done chan struct{}
	err  error                // why the reader stopped; read after done is closed
	ops  []presence.Operation // received and not yet taken by expectOp
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, _, err := testenv.DialWS(t, url, testenv.WSOptions{})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return c.WS
}

// connect opens a client to ta; it is closed when the test ends.
func (ta *testApp) connect() *client {
	ta.t.Helper()
	c := &client{t: ta.t, ws: dial(ta.t, ta.url), in: make(chan msg, 8192), done: make(chan struct{})}
	go c.read()
	ta.t.Cleanup(c.close)
	return c
}

func (c *client) read() {
	defer close(c.done)
	defer close(c.in)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.err = err
			return
		}
		var m msg
		if err := json.Unmarshal(data, &m); err != nil {
			c.err = fmt.Errorf("server sent a message that is not JSON: %q", data)
			return
		}
		c.in <- m
	}
}

// send sends a message whose payload is given as JSON text ("" for none).
func (c *client) send(typ, payload string) {
	c.t.Helper()
	frame := `{"type":` + quote(typ) + `,"meta":{"timestamp":` + fmt.Sprint(time.Now().UnixMilli()) + `}`
	if payload != "" {
		frame += `,"payload":` + payload
	}
	c.sendRaw(frame + "}")
}

func (c *client) sendRaw(frame string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.t.Fatalf("send %s: %v", frame, err)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// next returns the next message, failing the test if none comes.
func (c *client) next() msg {
	c.t.Helper()
	select {
	case m, ok := <-c.in:
		if !ok {
			<-c.done
			c.t.Fatalf("connection ended while waiting for a message: %v", c.err)
		}
		return m
	case <-time.After(wait):
		c.t.Fatalf("no message within %v", wait)
	}
	panic("unreachable")
}

// expect returns the next message, which must be of type typ.
func (c *client) expect(typ string) msg {
	c.t.Helper()
	m := c.next()
	if m.Type != typ {
		c.t.Fatalf("got %s, want a %s", m, typ)
	}
	return m
}

// expectError returns the next message, which must be an ERROR with code.
func (c *client) expectError(code string) errorPayload {
	c.t.Helper()
	m := c.expect("ERROR")
	var p errorPayload
	m.decode(c.t, &p)
	if p.Code != code {
		c.t.Fatalf("got %s, want code %s", m, code)
	}
	return p
}

type errorPayload struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
}

// quiet checks that nothing arrives for a little while.
func (c *client) quiet() {
	c.t.Helper()
	select {
	case m, ok := <-c.in:
		if ok {
			c.t.Fatalf("unexpected message: %s", m)
		}
	case <-time.After(100 * time.Millisecond):
	}
}

// closed waits for the server to close the connection and returns its
// close code.
func (c *client) closed() int {
	c.t.Helper()
	for {
		select {
		case _, ok := <-c.in:
			if ok {
				continue // what was queued before the close
			}
			var ce *websocket.CloseError
			if !errors.As(c.err, &ce) {
				c.t.Fatalf("connection ended without a close frame: %v", c.err)
			}
			return ce.Code
		case <-time.After(wait):
			c.t.Fatalf("connection not closed within %v", wait)
		}
	}
}

// close closes the connection politely and waits for the reader.
func (c *client) close() {
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
	c.ws.Close()
	<-c.done
}

// join sends JOIN and returns the answer's first message (SYNC.SNAPSHOT,
// SYNC.DELTAS or REVISION_GAP).
func (c *client) join(id, name string) msg {
	c.t.Helper()
	c.send("JOIN", `{"participantId":`+quote(id)+`,"name":`+quote(name)+`}`)
	return c.next()
}

// deltas is SYNC.DELTAS's payload.
type deltas struct {
	FromRev    uint64               `json:"fromRev"`
	ToRev      uint64               `json:"toRev"`
	Operations []presence.Operation `json:"operations"`
}

// snapshot is SYNC.SNAPSHOT's payload.
type snapshot struct {
	Rev          uint64                          `json:"rev"`
	Participants map[string]presence.Participant `json:"participants"`
}

// expectOp returns the next operation of type typ for participant id,
// skipping others; it reads SYNC.DELTAS as needed, keeping the operations
// after it (several arrive in one message when they share a commit).
func (c *client) expectOp(typ, id string) presence.Operation {
	c.t.Helper()
	for {
		for len(c.ops) > 0 {
			op := c.ops[0]
			c.ops = c.ops[1:]
			var who struct {
				ID string `json:"id"`
			}
			json.Unmarshal(op.Payload, &who)
			if who.ID == id && op.Type == typ {
				return op
			}
		}
		var d deltas
		c.expect("SYNC.DELTAS").decode(c.t, &d)
		c.ops = d.Operations
	}
}
