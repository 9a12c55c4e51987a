package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
	"github.com/deltasync/syncd/server"
)

func TestDialJoinEdit(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	var states []client.State
	var mu sync.Mutex
	c := dial(t, ev.url, func(o *client.Options) {
		o.OnState = func(s client.State, _ error) { mu.Lock(); states = append(states, s); mu.Unlock() }
	})
	if id := c.ClientID(); len(id) != 26 {
		t.Fatalf("client id %q is not a ULID", id)
	}
	d := join(t, c, "lists:a")
	var changes []client.Change
	d.OnChange(func(ch client.Change) { mu.Lock(); changes = append(changes, ch); mu.Unlock() })
	if _, err := d.Merge(map[string]any{"title": "Groceries"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Patch(`[{"op":"add","path":"/items","value":["milk"]}]`); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Title string
		Items []string
	}
	if err := d.Get(&v); err != nil || v.Title != "Groceries" || len(v.Items) != 1 {
		t.Fatalf("optimistic view %+v, %v", v, err)
	}
	converged(t, ev, "lists:a", d)
	if d.Rev() != 2 {
		t.Fatalf("rev %d, want 2", d.Rev())
	}
	// A patch that does not apply locally is refused at once, not queued.
	if _, err := d.Patch(`[{"op":"remove","path":"/nope"}]`); err == nil {
		t.Fatal("remove of a missing path: no error")
	}
	// The second client sees both edits as remote changes.
	c2 := dial(t, ev.url, nil)
	d2 := join(t, c2, "lists:a")
	got := make(chan client.Change, 10)
	d2.OnChange(func(ch client.Change) { got <- ch })
	if _, err := d.Merge(`{"title":"Shopping"}`); err != nil {
		t.Fatal(err)
	}
	select {
	case ch := <-got:
		if ch.Kind != client.ChangeRemote || ch.Local || len(ch.Patches) != 1 {
			t.Fatalf("change %+v", ch)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no remote change")
	}
	converged(t, ev, "lists:a", d, d2)
	c.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(states) == 0 || states[0] != client.StateConnected {
		t.Fatalf("states %v", states)
	}
	kinds := map[client.ChangeKind]int{}
	for _, ch := range changes {
		kinds[ch.Kind]++
	}
	if kinds[client.ChangeLocal] != 3 {
		t.Fatalf("changes %v", kinds)
	}
	if !errors.Is(c.Err(), client.ErrClosed) {
		t.Fatalf("Err after Close: %v", c.Err())
	}
}

func TestClientIDKeptAcrossReconnects(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	p := newProxy(t, ev.addr)
	c := dial(t, p.url, nil)
	id := c.ClientID()
	d := join(t, c, "doc")
	p.dropAll()
	if _, err := d.Merge(`{"a":1}`); err != nil {
		t.Fatal(err)
	}
	converged(t, ev, "doc", d)
	if c.ClientID() != id {
		t.Fatalf("client id changed from %s to %s", id, c.ClientID())
	}
	ops := ev.ops("doc")
	if len(ops) != 1 || ops[0].ClientID != id {
		t.Fatalf("ops %+v", ops)
	}
}

func TestStopOnReplaced(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	c := dial(t, ev.url, nil)
	c2 := dial(t, ev.url, func(o *client.Options) { o.ClientID = c.ClientID() })
	_ = c2
	select {
	case <-c.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the replaced client did not stop")
	}
	var ce *client.CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != protocol.CloseReplaced {
		t.Fatalf("Err %v, want close 4409", c.Err())
	}
	if c.State() != client.StateClosed {
		t.Fatalf("state %v", c.State())
	}
}

func TestDialRefused(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{JWTSecret: []byte("a-secret-of-at-least-thirty-two-bytes")})
	_, err := client.Dial(context.Background(), client.Options{URL: ev.url, Logger: quietLogger()})
	var de *client.DialError
	if !errors.As(err, &de) || de.Status != 401 {
		t.Fatalf("Dial without a token: %v, want HTTP 401", err)
	}
}

func TestRollback(t *testing.T) {
	ev := newEnv(t, syncd.Options{MaxDocSize: 4096}, server.Options{})
	p := newProxy(t, ev.addr)
	rejected := make(chan client.Rejection, 10)
	c := dial(t, p.url, func(o *client.Options) { o.OnReject = func(r client.Rejection) { rejected <- r } })
	d := join(t, c, "doc")
	perDoc := make(chan client.Rejection, 10)
	d.OnReject(func(r client.Rejection) { perDoc <- r })
	if _, err := d.Merge(`{"x":1}`); err != nil {
		t.Fatal(err)
	}
	converged(t, ev, "doc", d)

	// Too large: accepted locally, refused by the server.
	id, err := d.Merge(map[string]any{"big": strings.Repeat("b", 5000)})
	if err != nil {
		t.Fatal(err)
	}
	r := <-rejected
	if r.ReqID != id || r.Code != protocol.CodeInvalidArgument {
		t.Fatalf("rejection %+v, want INVALID_ARGUMENT for %s", r, id)
	}
	if r2 := <-perDoc; r2.ReqID != id {
		t.Fatalf("per-document rejection %+v", r2)
	}
	converged(t, ev, "doc", d)
	if m := d.View().(map[string]any); m["big"] != nil {
		t.Fatal("the refused edit is still in the view")
	}

	// A failing test: the client edits a stale view while offline.
	p.pause()
	ev.commit("doc", map[string]any{"x": 5})
	id, err = d.Patch(`[{"op":"test","path":"/x","value":1},{"op":"replace","path":"/x","value":2}]`)
	if err != nil {
		t.Fatal(err)
	}
	p.resume()
	r = <-rejected
	if r.ReqID != id || r.Code != protocol.CodeFailedPrecondition {
		t.Fatalf("rejection %+v, want FAILED_PRECONDITION for %s", r, id)
	}
	converged(t, ev, "doc", d)
	var v struct{ X int }
	if err := d.Get(&v); err != nil || v.X != 5 {
		t.Fatalf("view x=%d, want 5 (%v)", v.X, err)
	}
}

func TestPresenceAndMessages(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	a, b := dial(t, ev.url, nil), dial(t, ev.url, nil)
	da, db := join(t, a, "room"), join(t, b, "room")
	ctx := ctxT(t)
	rooms := make(chan map[string]json.RawMessage, 10)
	db.OnPresence(func(m map[string]json.RawMessage) { rooms <- m })
	msgs := make(chan client.Message, 10)
	db.OnMessage(func(m client.Message) { msgs <- m })
	if err := da.SetPresence(ctx, map[string]any{"name": "Ada"}); err != nil {
		t.Fatal(err)
	}
	for m := range rooms {
		if string(m[a.AuthorID()]) == `{"name":"Ada"}` {
			break
		}
	}
	if err := da.Publish(ctx, map[string]string{"chat": "hi"}); err != nil {
		t.Fatal(err)
	}
	m := <-msgs
	if m.From != a.AuthorID() || m.Doc != "room" || string(m.Data) != `{"chat":"hi"}` {
		t.Fatalf("message %+v", m)
	}
	topicMsgs := make(chan client.Message, 10)
	if err := b.Subscribe(ctx, "lobby", func(m client.Message) { topicMsgs <- m }); err != nil {
		t.Fatal(err)
	}
	if err := a.Subscribe(ctx, "lobby", func(client.Message) {}); err != nil {
		t.Fatal(err)
	}
	if err := a.PublishTopic(ctx, "lobby", "chess?"); err != nil {
		t.Fatal(err)
	}
	if m := <-topicMsgs; m.Topic != "lobby" || string(m.Data) != `"chess?"` {
		t.Fatalf("topic message %+v", m)
	}
	// Presence survives a reconnect: the re-join carries it.
	if p := db.Presence(); string(p[a.AuthorID()]) != `{"name":"Ada"}` {
		t.Fatalf("presence %v", p)
	}
}

type echoReq struct {
	Text string `json:"text"`
}
type echoReply struct {
	Text string `json:"text"`
	N    int    `json:"n"`
}

func TestCall(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	router.HandleRPC(ev.server.Router(), "ECHO", "ECHO.OK", func(_ *router.Ctx, p echoReq) (echoReply, error) {
		if p.Text == "" {
			return echoReply{}, protocol.NewError(protocol.CodeFailedPrecondition, "empty text")
		}
		return echoReply{Text: p.Text, N: len(p.Text)}, nil
	})
	c := dial(t, ev.url, nil)
	ctx := ctxT(t)
	var r echoReply
	if err := c.Call(ctx, "ECHO", echoReq{Text: "hello"}, &r); err != nil || r.Text != "hello" || r.N != 5 {
		t.Fatalf("Call: %+v, %v", r, err)
	}
	err := c.Call(ctx, "ECHO", echoReq{}, &r)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeFailedPrecondition {
		t.Fatalf("Call error %v, want FAILED_PRECONDITION", err)
	}
	if protocol.CodeOf(c.Call(ctx, "NOPE", nil, nil)) != protocol.CodeUnimplemented {
		t.Fatal("unknown type: want UNIMPLEMENTED")
	}
	short, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-short.Done()
	if err := c.Call(short, "ECHO", echoReq{Text: "x"}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired context: %v", err)
	}
}
