package router_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

func TestTypedHandlerDecodesAndValidates(t *testing.T) {
	ts := newServer(t, router.Options{}, func(r *router.Router) {
		router.Handle(r, protocol.TypeJoin, func(x *router.Ctx, p protocol.Join) error {
			return x.Reply("JOINED", protocol.Leave{Doc: p.Doc})
		})
	})
	c := ts.dial()
	c.send("JOIN", "r1", map[string]any{"doc": "todo:1"})
	m := c.expect("JOINED")
	if m.CorrelationID() != "r1" || string(m.Payload) != `{"doc":"todo:1"}` {
		t.Fatalf("reply %s", m.Raw)
	}
	// Validation (Join.Validate) refuses a bad document id.
	c.send("JOIN", "r2", map[string]any{"doc": "no spaces"})
	p := c.expectError("r2", protocol.CodeInvalidArgument)
	if !strings.Contains(p.Message, "payload.doc") {
		t.Fatalf("message %q", p.Message)
	}
	// A reflected application type gets the same strictness.
	c.send("ECHO", "r3", map[string]any{"n": 1})
	p = c.expectError("r3", protocol.CodeInvalidArgument)
	if p.Message != "payload.text: required" || string(p.Details) != `{"field":"payload.text"}` {
		t.Fatalf("error %+v", p)
	}
}

func TestMiddleware(t *testing.T) {
	rec := newRecorder()
	mw := func(name string) router.Middleware {
		return func(next router.HandlerFunc) router.HandlerFunc {
			return func(x *router.Ctx) error {
				rec.add(name + ">" + x.Type())
				return next(x)
			}
		}
	}
	deny := func(next router.HandlerFunc) router.HandlerFunc {
		return func(x *router.Ctx) error {
			return protocol.NewError(protocol.CodePermissionDenied, "not you")
		}
	}
	ts := newServer(t, router.Options{}, func(r *router.Router) {
		r.Use(mw("g1"), mw("g2"))
		router.Handle(r, "A", func(x *router.Ctx, p struct{}) error {
			rec.add("handler A")
			return x.Reply("A.OK", nil)
		}, mw("r1"))
		router.Handle(r, "B", func(x *router.Ctx, p struct{}) error {
			rec.add("handler B")
			return nil
		}, deny)
	})
	c := ts.dial()
	c.send("A", "1", nil)
	c.expect("A.OK")
	if got := strings.Join(rec.all(), ","); got != "g1>A,g2>A,r1>A,handler A" {
		t.Fatalf("order %s", got)
	}
	c.send("B", "2", map[string]any{"ignored": "middleware runs before decoding"})
	c.expectError("2", protocol.CodePermissionDenied)
	for _, e := range rec.all() {
		if e == "handler B" {
			t.Fatal("the chain did not stop")
		}
	}
}

func TestRPC(t *testing.T) {
	rec := newRecorder()
	later := make(chan *router.Ctx, 1)
	ts := newServer(t, router.Options{OnError: func(c *router.Conn, err error) { rec.add("error " + err.Error()) }}, func(r *router.Router) {
		router.Handle(r, "SLOW", func(x *router.Ctx, p struct{}) error {
			for i := 1; i <= 3; i++ {
				if err := x.Progress(map[string]int{"done": i}); err != nil {
					return err
				}
			}
			if err := x.Reply("SLOW.DONE", map[string]bool{"ok": true}); err != nil {
				return err
			}
			if err := x.Reply("SLOW.DONE", nil); !errors.Is(err, router.ErrAlreadyReplied) {
				return fmt.Errorf("second reply: %v", err)
			}
			if err := x.Progress(1); !errors.Is(err, router.ErrAlreadyReplied) {
				return fmt.Errorf("progress after reply: %v", err)
			}
			if err := x.Error(errors.New("x")); !errors.Is(err, router.ErrAlreadyReplied) {
				return fmt.Errorf("error after reply: %v", err)
			}
			return nil
		})
		router.Handle(r, "LATER", func(x *router.Ctx, p struct{}) error {
			later <- x // answered from another goroutine, after the handler returned
			return nil
		})
		router.Handle(r, "ANSWER_THEN_FAIL", func(x *router.Ctx, p struct{}) error {
			x.Reply("ANSWERED", nil)
			return errors.New("late failure")
		})
		router.Handle(r, "PROGRESS_NO_RPC", func(x *router.Ctx, p struct{}) error {
			if err := x.Progress(1); !errors.Is(err, router.ErrNotRPC) {
				t.Errorf("progress without correlationId: %v", err)
			}
			return x.Reply("NO_RPC.OK", nil)
		})
	})
	c := ts.dial()

	c.send("SLOW", "s-1", nil)
	for i := 1; i <= 3; i++ {
		m := c.expect(protocol.TypeRPCProgress)
		if m.CorrelationID() != "s-1" || string(m.Payload) != fmt.Sprintf(`{"done":%d}`, i) {
			t.Fatalf("progress %s", m.Raw)
		}
	}
	if m := c.expect("SLOW.DONE"); m.CorrelationID() != "s-1" {
		t.Fatalf("reply %s", m.Raw)
	}

	c.send("LATER", "l-1", nil)
	x := <-later
	if !x.IsRPC() || x.Replied() {
		t.Fatal("ctx state")
	}
	x.Error(protocol.NewError(protocol.CodeAborted, "conflict"))
	p := c.expectError("l-1", protocol.CodeAborted)
	if p.Retryable == nil || !*p.Retryable || p.RetryAfterMs == nil || *p.RetryAfterMs != 50 {
		t.Fatalf("retry metadata %+v", p)
	}

	// A handler error after its own reply is not sent twice, but reported.
	c.send("ANSWER_THEN_FAIL", "a-1", nil)
	c.expect("ANSWERED")
	rec.wait(t, "error late failure")
	c.echo("still one reply each")

	// Without a correlationId: replies carry none; errors are ERROR.
	c.send("PROGRESS_NO_RPC", "", nil)
	if m := c.expect("NO_RPC.OK"); m.CorrelationID() != "" {
		t.Fatalf("%s", m.Raw)
	}
	c.send("FAIL", "", map[string]any{"text": "NOT_FOUND"})
	c.expectError("", protocol.CodeNotFound)
	c.send("FAIL", "f-1", map[string]any{"text": "ROOM_FULL"})
	if p := c.expectError("f-1", "ROOM_FULL"); p.Retryable != nil {
		t.Fatalf("custom code got retry metadata: %+v", p)
	}
}

func TestHandlerErrorsAndPanics(t *testing.T) {
	rec := newRecorder()
	ts := newServer(t, router.Options{
		OnError: func(c *router.Conn, err error) {
			var pe *router.PanicError
			if errors.As(err, &pe) {
				rec.add("panic " + fmt.Sprint(pe.Value))
				return
			}
			rec.add("error " + err.Error())
		},
	}, func(r *router.Router) {
		router.Handle(r, "BOOM", func(x *router.Ctx, p struct{}) error { panic("kaboom") })
		router.Handle(r, "SECRET", func(x *router.Ctx, p struct{}) error {
			return errors.New("db password is hunter2")
		})
		router.Handle(r, "CTX", func(x *router.Ctx, p struct{}) error {
			return fmt.Errorf("query: %w", context.DeadlineExceeded)
		})
	})
	c := ts.dial()
	c.send("BOOM", "b", nil)
	c.expectError("b", protocol.CodeInternal)
	rec.wait(t, "panic kaboom")
	c.send("SECRET", "s", nil)
	if p := c.expectError("s", protocol.CodeInternal); strings.Contains(p.Message, "hunter2") {
		t.Fatal("internal error text leaked to the client")
	}
	rec.wait(t, "error db password")
	c.send("CTX", "", nil)
	c.expectError("", protocol.CodeDeadlineExceeded)
	c.echo("alive")
}

func TestMapError(t *testing.T) {
	errConflict := errors.New("engine: conflict")
	ts := newServer(t, router.Options{MapError: func(err error) *protocol.Error {
		if errors.Is(err, errConflict) {
			return protocol.NewError(protocol.CodeAborted, "conflict")
		}
		return protocol.AsError(err)
	}}, func(r *router.Router) {
		router.Handle(r, "EDIT", func(x *router.Ctx, p struct{}) error { return errConflict })
	})
	c := ts.dial()
	c.send("EDIT", "e", nil)
	c.expectError("e", protocol.CodeAborted)
}

func TestLifecycleHooks(t *testing.T) {
	rec := newRecorder()
	ts := newServer(t, router.Options{
		OnOpen: func(c *router.Conn) {
			rec.add("open " + c.ClientID())
			c.Send(protocol.TypeHello, protocol.Hello{ClientID: c.ClientID(), Protocol: protocol.ProtocolVersion, HeartbeatMs: 25000})
		},
		OnClose: func(c *router.Conn, code int, reason string) {
			rec.add(fmt.Sprintf("close %s %d", c.ClientID(), code))
		},
	}, nil)
	c := ts.dial()
	m := c.expect(protocol.TypeHello)
	var hello protocol.Hello
	if err := hello.UnmarshalPayload(m.Payload); err != nil {
		t.Fatal(err)
	}
	if _, err := protocol.ParseClientID(hello.ClientID); err != nil {
		t.Fatalf("assigned client id %q: %v", hello.ClientID, err)
	}
	if e := rec.wait(t, "open"); e != "open "+hello.ClientID {
		t.Fatal(e)
	}
	c.ws.WriteControl(8, formatClose(protocol.CloseNormal, "bye"), time.Now().Add(time.Second))
	if e := rec.wait(t, "close"); e != fmt.Sprintf("close %s %d", hello.ClientID, protocol.CloseNormal) {
		t.Fatal(e)
	}
}

func TestConnValuesAndContext(t *testing.T) {
	done := make(chan error, 1)
	ts := newServer(t, router.Options{
		Authenticate: func(a router.AuthRequest) (any, error) { return "user-7", nil },
		OnOpen: func(c *router.Conn) {
			c.Set("joined", 0)
			ctx := c.Context()
			go func() { <-ctx.Done(); done <- ctx.Err() }()
		},
	}, func(r *router.Router) {
		router.Handle(r, "WHO", func(x *router.Ctx, p struct{}) error {
			v, _ := x.Conn().Get("joined")
			x.Conn().Set("joined", v.(int)+1)
			return x.Reply("WHO", map[string]any{"user": x.Conn().Data(), "n": v.(int) + 1})
		})
	})
	c := ts.dial()
	c.send("WHO", "1", nil)
	c.send("WHO", "2", nil)
	c.expect("WHO")
	if m := c.expect("WHO"); string(m.Payload) != `{"n":2,"user":"user-7"}` {
		t.Fatalf("%s", m.Raw)
	}
	c.ws.Close()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("connection context not cancelled")
	}
}

func TestRegistrationPanics(t *testing.T) {
	r := router.New(router.Options{})
	defer r.Shutdown(context.Background())
	for _, typ := range []string{"", "__x", "$ws:abort"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("HandleFunc(%q) did not panic", typ)
				}
			}()
			r.HandleFunc(typ, func(*router.Ctx) error { return nil })
		}()
	}
	r.HandleFunc("A", func(*router.Ctx) error { return nil })
	func() {
		defer func() {
			if recover() == nil {
				t.Error("duplicate did not panic")
			}
		}()
		r.HandleFunc("A", func(*router.Ctx) error { return nil })
	}()
}

func TestClientIDs(t *testing.T) {
	rec := newRecorder()
	ts := newServer(t, router.Options{
		OnOpen:  func(c *router.Conn) { rec.add("open " + c.ClientID()) },
		OnClose: func(c *router.Conn, code int, _ string) { rec.add(fmt.Sprintf("close %s %d", c.ClientID(), code)) },
	}, nil)
	const id = "01HZY0J5Q8X6T9V3N2M4K7P1RA"
	first := ts.dial(dialOpts{query: map[string][]string{"clientId": {strings.ToLower(id)}}})
	if e := rec.wait(t, "open"); e != "open "+id {
		t.Fatalf("client id not canonical: %s", e)
	}
	first.echo("one")

	// A second connection with the same id replaces the first, whose
	// OnClose runs before the new one's OnOpen.
	second := ts.dial(dialOpts{query: map[string][]string{"clientId": {id}}})
	if code := first.closeCode(); code != protocol.CloseReplaced {
		t.Fatalf("replaced connection closed with %d", code)
	}
	if e := rec.wait(t, ""); e != fmt.Sprintf("close %s %d", id, protocol.CloseReplaced) {
		t.Fatalf("first event after replacement: %s", e)
	}
	if e := rec.wait(t, ""); e != "open "+id {
		t.Fatalf("then: %s", e)
	}
	second.echo("two")
	if c, ok := ts.r.Conn(id); !ok || c.ClientID() != id {
		t.Fatal("registry")
	}

	// An invalid client id is refused before the upgrade.
	_, err := ts.tryDial(dialOpts{query: map[string][]string{"clientId": {"not-a-ulid"}}})
	if err == nil {
		t.Fatal("invalid clientId accepted")
	}
	bad, _ := ts.tryDial(dialOpts{query: map[string][]string{"clientId": {"not-a-ulid"}}})
	if bad == nil || bad.resp == nil || bad.resp.StatusCode != 400 {
		t.Fatalf("invalid clientId: %v", err)
	}
}

func TestTopics(t *testing.T) {
	ts := newServer(t, router.Options{}, func(r *router.Router) {
		router.Handle(r, protocol.TypeSubscribe, func(x *router.Ctx, p protocol.Subscribe) error {
			if err := x.Conn().Subscribe(x.Context(), p.Topic); err != nil {
				return err
			}
			return x.Reply("SUBSCRIBED", nil)
		})
		router.Handle(r, protocol.TypeUnsubscribe, func(x *router.Ctx, p protocol.Unsubscribe) error {
			if err := x.Conn().Unsubscribe(x.Context(), p.Topic); err != nil {
				return err
			}
			return x.Reply("UNSUBSCRIBED", nil)
		})
		router.Handle(r, protocol.TypePublish, func(x *router.Ctx, p protocol.Publish) error {
			return x.Conn().Router().Publish(x.Context(), p.Topic, protocol.TypeMessage,
				protocol.Message{Topic: p.Topic, Data: p.Data, From: x.Conn().ClientID()},
				router.PublishOptions{Exclude: x.Conn().ClientID()})
		})
	})
	a, b, c := ts.dial(), ts.dial(), ts.dial()
	for _, cl := range []*client{a, b, c} {
		cl.send(protocol.TypeSubscribe, "s", map[string]any{"topic": "chat"})
		cl.expect("SUBSCRIBED")
	}
	b.send(protocol.TypeUnsubscribe, "u", map[string]any{"topic": "chat"})
	b.expect("UNSUBSCRIBED")

	a.send(protocol.TypePublish, "", map[string]any{"topic": "chat", "data": map[string]string{"text": "hi"}})
	m := c.expect(protocol.TypeMessage)
	var got protocol.Message
	if err := got.UnmarshalPayload(m.Payload); err != nil || string(got.Data) != `{"text":"hi"}` || got.Topic != "chat" {
		t.Fatalf("%s %v", m.Raw, err)
	}
	// Not echoed to the sender, nor sent to the unsubscribed.
	a.echo("a")
	b.echo("b")

	// A closed connection leaves its topics.
	broker := ts.r.Broker().(*router.MemoryBroker)
	c.ws.Close()
	deadline := time.Now().Add(10 * time.Second)
	for broker.Subscribers("chat") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers after close", broker.Subscribers("chat"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A connection on several topics: the first is kept apart from the others
// (without a map), and every operation sees them all.
func TestTopicsSeveral(t *testing.T) {
	type topicsReply struct {
		Topics []string `json:"topics"`
	}
	ts := newServer(t, router.Options{}, func(r *router.Router) {
		router.Handle(r, protocol.TypeSubscribe, func(x *router.Ctx, p protocol.Subscribe) error {
			return x.Conn().Subscribe(x.Context(), p.Topic)
		})
		router.Handle(r, protocol.TypeUnsubscribe, func(x *router.Ctx, p protocol.Unsubscribe) error {
			return x.Conn().Unsubscribe(x.Context(), p.Topic)
		})
		router.Handle(r, "TOPICS", func(x *router.Ctx, _ struct{}) error {
			return x.Reply("TOPICS.OK", topicsReply{Topics: x.Conn().Topics()})
		})
	})
	a := ts.dial()
	topics := func() []string {
		a.send("TOPICS", "t", struct{}{})
		m := a.expect("TOPICS.OK")
		var r topicsReply
		if err := json.Unmarshal(m.Payload, &r); err != nil {
			t.Fatal(err)
		}
		return r.Topics
	}
	for _, tp := range []string{"c", "a", "b", "a"} {
		a.send(protocol.TypeSubscribe, "", map[string]any{"topic": tp})
	}
	if got := topics(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("topics %v", got)
	}
	broker := ts.r.Broker().(*router.MemoryBroker)
	for _, tp := range []string{"a", "b", "c"} {
		if n := broker.Subscribers(tp); n != 1 {
			t.Fatalf("%s: %d subscribers", tp, n)
		}
	}
	a.send(protocol.TypeUnsubscribe, "", map[string]any{"topic": "c"}) // the first
	a.send(protocol.TypeSubscribe, "", map[string]any{"topic": "d"})
	if got := topics(); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Fatalf("topics %v", got)
	}
	if n := broker.Subscribers("c"); n != 0 {
		t.Fatalf("c: %d subscribers after unsubscribe", n)
	}
	a.ws.Close()
	deadline := time.Now().Add(10 * time.Second)
	for broker.Subscribers("a")+broker.Subscribers("b")+broker.Subscribers("d") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("topics kept after close")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFrameSharedAcrossConnections(t *testing.T) {
	ts := newServer(t, router.Options{}, nil)
	var clients []*client
	for range 5 {
		c := ts.dial()
		c.echo("ready")
		clients = append(clients, c)
	}
	f, err := router.NewFrame(protocol.TypeSyncDeltas, protocol.SyncDeltas{Doc: "d", Epoch: "01HZY0J5Q8X6T9V3N2M4K7P1RA", FromRev: 1, ToRev: 1})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, conn := range ts.r.Conns() {
		if err := conn.SendFrame(f); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 5 {
		t.Fatalf("%d conns", n)
	}
	for _, c := range clients {
		m := c.expect(protocol.TypeSyncDeltas)
		if string(m.Raw) != string(f.Bytes()) {
			t.Fatalf("got %s, want the frame's bytes %s", m.Raw, f.Bytes())
		}
	}
}

func formatClose(code int, text string) []byte {
	b := []byte{byte(code >> 8), byte(code)}
	return append(b, text...)
}

// TestMessageSizes sends messages across every frame-header size and the
// large-frame write path, and checks they arrive intact.
func TestMessageSizes(t *testing.T) {
	ts := newServer(t, router.Options{MaxMessageBytes: 1 << 20}, nil)
	c := ts.dial()
	for _, n := range []int{0, 100, 125, 126, 127, 1000, 65535 - 40, 65536, 100000, 300000} {
		text := strings.Repeat("s", n)
		c.send("ECHO", "x", map[string]any{"text": text})
		m := c.expect("ECHOED")
		if string(m.Payload) != `{"text":"`+text+`"}` {
			t.Fatalf("size %d: got %d bytes", n, len(m.Payload))
		}
	}
}
