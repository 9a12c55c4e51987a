package client_test

// Found by a review of the client's concurrency edges: joins shared by
// several callers, callbacks, rooms and RPCs.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/router"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// gatedLoads is a store whose loads wait for gate to be closed: a JOIN's
// answer is held back for as long as the test wants.
type gatedLoads struct {
	syncd.Store
	gate chan struct{}
	once sync.Once
}

func (g *gatedLoads) Load(ctx context.Context, doc string) (*syncd.StoredDoc, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Store.Load(ctx, doc)
}

func (g *gatedLoads) open() { g.once.Do(func() { close(g.gate) }) }

// TestJoinGivenUpByOneCallerKeepsTheOther: two goroutines Join the same
// document ("Joining a document already joined returns the same handle");
// the one whose context ends first must not take the document away from
// the other, which waits with a context that has not ended.
func TestJoinGivenUpByOneCallerKeepsTheOther(t *testing.T) {
	st := &gatedLoads{Store: memstore.New(memstore.Options{}), gate: make(chan struct{})}
	ev := newEnvStore(t, st, syncd.Options{}, server.Options{})
	t.Cleanup(st.open)
	c := dial(t, ev.url, nil)

	type result struct {
		d   any
		err error
	}
	first := make(chan result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		d, err := c.Join(ctx, "shared")
		first <- result{d, err}
	}()
	time.Sleep(200 * time.Millisecond) // the first Join's JOIN is out, its answer held

	impatient, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := c.Join(impatient, "shared"); err == nil {
		t.Fatal("the impatient Join succeeded while the store was held")
	}
	st.open()
	select {
	case r := <-first:
		if r.err != nil {
			t.Fatalf("the patient Join failed: %v (another caller's deadline took the document away)", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the patient Join never returned")
	}
}

// TestUnsubscribedHandlerNotCalled: once Unsubscribe has returned, the
// handler given to Subscribe is not called again, even for a message that
// arrived while the event goroutine was busy with an earlier callback.
func TestUnsubscribedHandlerNotCalled(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	a, b := dial(t, ev.url, nil), dial(t, ev.url, nil)
	ctx := ctxT(t)
	var mu sync.Mutex
	unsubscribed := false
	late := make(chan struct{}, 10)
	if err := b.Subscribe(ctx, "news", func(client.Message) {
		mu.Lock()
		defer mu.Unlock()
		if unsubscribed {
			late <- struct{}{}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Subscribe(ctx, "news", func(client.Message) {}); err != nil {
		t.Fatal(err)
	}
	release := holdEvents(t, b)
	if err := a.PublishTopic(ctx, "news", "hello"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // b's reader has queued the message
	if err := b.Unsubscribe(ctx, "news"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	unsubscribed = true
	mu.Unlock()
	release()
	select {
	case <-late:
		t.Fatal("the handler was called after Unsubscribe returned")
	case <-time.After(500 * time.Millisecond):
	}
}

// TestRPCInFlightWhenTheConnectionDrops: an RPC whose connection drops
// before its answer returns ErrDisconnected, never hangs; the next RPC on
// the new connection works.
func TestRPCInFlightWhenTheConnectionDrops(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	hold := make(chan struct{})
	var held atomic.Int32
	router.HandleRPC(ev.server.Router(), "SLOW", "SLOW.OK", func(x *router.Ctx, p echoReq) (echoReply, error) {
		if p.Text == "hold" {
			held.Add(1)
			select {
			case <-hold:
			case <-x.Context().Done():
			}
		}
		return echoReply{Text: p.Text}, nil
	})
	defer close(hold)
	p := newProxy(t, ev.addr)
	c := dial(t, p.url, nil)
	ctx := ctxT(t)
	errc := make(chan error, 1)
	go func() { errc <- c.Call(ctx, "SLOW", echoReq{Text: "hold"}, nil) }()
	for held.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	p.dropAll()
	select {
	case err := <-errc:
		if !errors.Is(err, client.ErrDisconnected) {
			t.Fatalf("Call: %v, want ErrDisconnected", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the RPC in flight hangs after the connection dropped")
	}
	for {
		var r echoReply
		err := c.Call(ctx, "SLOW", echoReq{Text: "again"}, &r)
		if err == nil {
			if r.Text != "again" {
				t.Fatalf("reply %+v", r)
			}
			break
		}
		if !errors.Is(err, client.ErrNotConnected) {
			t.Fatalf("Call after the reconnect: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCallbacksCallBackIntoTheClient: callbacks may edit, leave and join
// (doc.go, "Traps"): none of it deadlocks.
func TestCallbacksCallBackIntoTheClient(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	a, b := dial(t, ev.url, nil), dial(t, ev.url, nil)
	da, db := join(t, a, "cb"), join(t, b, "cb")
	ctx := ctxT(t)
	done := make(chan error, 1)
	var once sync.Once
	db.OnChange(func(ch client.Change) {
		if ch.Kind != client.ChangeRemote || len(ch.Patches) == 0 {
			return
		}
		once.Do(func() {
			if _, err := db.Merge(map[string]int{"reply": 1}); err != nil {
				done <- err
				return
			}
			if err := db.Settled(ctx); err != nil {
				done <- err
				return
			}
			db.Leave()
			d2, err := b.Join(ctx, "cb")
			if err != nil {
				done <- err
				return
			}
			var v map[string]any
			if err := d2.Get(&v); err != nil {
				done <- err
				return
			}
			if v["reply"] == nil {
				done <- fmt.Errorf("re-joined view %v lacks the reply", v)
				return
			}
			done <- nil
		})
	})
	if _, err := da.Merge(map[string]int{"ping": 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a callback calling back into the client deadlocked")
	}
}

// TestLeftDocumentMessagesNotDelivered: once Leave has returned, the
// document's OnMessage handlers are not called again, even for a message
// that arrived while the event goroutine was busy.
func TestLeftDocumentMessagesNotDelivered(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	a, b := dial(t, ev.url, nil), dial(t, ev.url, nil)
	ctx := ctxT(t)
	da, db := join(t, a, "room"), join(t, b, "room")
	var left atomic.Bool
	late := make(chan struct{}, 10)
	db.OnMessage(func(client.Message) {
		if left.Load() {
			late <- struct{}{}
		}
	})
	release := holdEvents(t, b)
	if err := da.Publish(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // b's reader has queued the message
	db.Leave()
	left.Store(true)
	release()
	select {
	case <-late:
		t.Fatal("OnMessage was called after Leave returned")
	case <-time.After(500 * time.Millisecond):
	}
}

// TestLeftDocumentChangesAndPresenceNotDelivered: once Leave has
// returned, the document's OnChange and OnPresence handlers are not called
// again either, even for events queued while the event goroutine was busy.
func TestLeftDocumentChangesAndPresenceNotDelivered(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	a, b := dial(t, ev.url, nil), dial(t, ev.url, nil)
	ctx := ctxT(t)
	da, db := join(t, a, "room"), join(t, b, "room")
	var left atomic.Bool
	late := make(chan string, 10)
	db.OnChange(func(client.Change) {
		if left.Load() {
			late <- "OnChange"
		}
	})
	db.OnPresence(func(map[string]json.RawMessage) {
		if left.Load() {
			late <- "OnPresence"
		}
	})
	release := holdEvents(t, b)
	if _, err := da.Merge(map[string]int{"y": 1}); err != nil {
		t.Fatal(err)
	}
	if err := da.SetPresence(ctx, map[string]string{"name": "a"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // b's reader has queued both
	db.Leave()
	left.Store(true)
	release()
	select {
	case which := <-late:
		t.Fatalf("%s was called after Leave returned", which)
	case <-time.After(500 * time.Millisecond):
	}
}

// TestLeaveThenJoinSameID: a document left and joined again at once, over
// and over, gets a fresh live handle each time, with the server's state,
// and its edits settle; the old handle refuses edits.
func TestLeaveThenJoinSameID(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	c := dial(t, ev.url, nil)
	ctx := ctxT(t)
	d := join(t, c, "again")
	for i := range 20 {
		if _, err := d.Merge(map[string]int{fmt.Sprint("k", i): i}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := d.Settled(ctx); err != nil {
				t.Fatal(err)
			}
		}
		old := d
		old.Leave()
		var err error
		if d, err = c.Join(ctx, "again"); err != nil {
			t.Fatalf("re-join %d: %v", i, err)
		}
		if d == old {
			t.Fatal("Join after Leave returned the left handle")
		}
		if _, err := old.Merge(map[string]int{"x": 1}); !errors.Is(err, client.ErrLeft) {
			t.Fatalf("edit of the left handle: %v", err)
		}
	}
	if _, err := d.Merge(map[string]int{"last": 1}); err != nil {
		t.Fatal(err)
	}
	converged(t, ev, "again", d)
}

// TestConcurrentMergesKeepIDOrder: edits made from many goroutines at once
// all commit, and the server sees each goroutine's edits in the order it
// made them.
func TestConcurrentMergesKeepIDOrder(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	c := dial(t, ev.url, nil)
	d := join(t, c, "many")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if _, err := d.Merge(map[string]int{fmt.Sprint("g", g): i}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	converged(t, ev, "many", d)
	var v map[string]any
	if err := d.Get(&v); err != nil {
		t.Fatal(err)
	}
	for g := range 8 {
		if fmt.Sprint(v[fmt.Sprint("g", g)]) != "49" {
			t.Fatalf("g%d = %v, want 49 (the last edit)", g, v[fmt.Sprint("g", g)])
		}
	}
	ops := ev.ops("many")
	prev := ""
	for _, op := range ops {
		if op.ClientReqID != "" && op.ClientReqID <= prev {
			t.Fatalf("request ids out of order: %s after %s", op.ClientReqID, prev)
		}
		if op.ClientReqID != "" {
			prev = op.ClientReqID
		}
	}
}

// holdLoads is a store whose loads wait while held.
type holdLoads struct {
	syncd.Store
	mu   sync.Mutex
	gate chan struct{} // nil: not held
	held atomic.Int32  // loads waiting
}

func (h *holdLoads) Load(ctx context.Context, doc string) (*syncd.StoredDoc, error) {
	h.mu.Lock()
	gate := h.gate
	h.mu.Unlock()
	if gate != nil {
		h.held.Add(1)
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return h.Store.Load(ctx, doc)
}

func (h *holdLoads) hold() {
	h.mu.Lock()
	h.gate = make(chan struct{})
	h.mu.Unlock()
}

func (h *holdLoads) release() {
	h.mu.Lock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
	h.mu.Unlock()
}

// TestPresenceSetWhileRejoiningReachesTheServer: SetPresence after a
// reconnect, while the document's re-JOIN is out but not yet answered,
// returns nil ("the re-join carries it"): the value must reach the room.
// The re-JOIN already went out with the old value.
func TestPresenceSetWhileRejoiningReachesTheServer(t *testing.T) {
	st := &holdLoads{Store: memstore.New(memstore.Options{})}
	ev := newEnvStore(t, st, syncd.Options{IdleTimeout: 50 * time.Millisecond}, server.Options{})
	t.Cleanup(st.release)
	p := newProxy(t, ev.addr)
	c := dial(t, p.url, nil)
	ctx := ctxT(t)
	d := join(t, c, "pres")
	if err := d.SetPresence(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	p.pause()
	for c.State() == client.StateConnected {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the document goes idle and is unloaded
	st.hold()
	p.resume()
	for st.held.Load() == 0 { // the re-JOIN waits for the store
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.SetPresence(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	st.release()
	if err := d.Settled(ctx); err != nil {
		t.Fatal(err)
	}
	// Another client joining now sees the room as the server has it.
	b := dial(t, ev.url, nil)
	db := join(t, b, "pres")
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := string(db.Presence()[c.AuthorID()])
		if got == `"new"` {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the room has %s for the client, want \"new\", which SetPresence accepted", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holdEvents keeps c's event goroutine busy in a slow callback (of a
// document "busy" it joins and edits) until release is called, so that
// events queue behind it.
func holdEvents(t *testing.T, c *client.Client) (release func()) {
	t.Helper()
	d := join(t, c, "busy")
	held, entered := make(chan struct{}), make(chan struct{})
	var once sync.Once
	d.OnChange(func(client.Change) {
		once.Do(func() {
			close(entered)
			<-held
		})
	})
	if _, err := d.Merge(map[string]int{"x": 1}); err != nil {
		t.Fatal(err)
	}
	<-entered
	var done sync.Once
	release = func() { done.Do(func() { close(held) }) }
	t.Cleanup(release)
	return release
}
