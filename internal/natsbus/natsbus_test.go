package natsbus_test

import (
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/deltasync/syncd/internal/natsbus"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// connect runs a NATS server on 127.0.0.1 and returns two connections to
// it, all closed when the test ends.
func connect(t *testing.T) (*nats.Conn, *nats.Conn) {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	var conns [2]*nats.Conn
	for i := range conns {
		nc, err := nats.Connect(ns.ClientURL(), nats.NoReconnect())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		conns[i] = nc
	}
	return conns[0], conns[1]
}

// inbox collects what a subscription receives.
type inbox struct {
	mu  sync.Mutex
	got []string
	ch  chan struct{}
}

func newInbox() *inbox { return &inbox{ch: make(chan struct{}, 100)} }

func (in *inbox) handle(data []byte) {
	in.mu.Lock()
	in.got = append(in.got, string(data))
	in.mu.Unlock()
	in.ch <- struct{}{}
}

func (in *inbox) await(t *testing.T, n int) []string {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-in.ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d messages, want %d", i, n)
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.got...)
}

func TestPublishSubscribe(t *testing.T) {
	nc1, nc2 := connect(t)
	a, err := natsbus.New(nc1, "t.bus", natsbus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := natsbus.New(nc2, "t.bus", natsbus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() == "" || a.ID() == b.ID() {
		t.Fatalf("ids %q and %q: want two distinct ids", a.ID(), b.ID())
	}
	other, err := natsbus.New(nc2, "t.other", natsbus.Options{ID: "x"})
	if err != nil || other.ID() != "x" {
		t.Fatalf("New with an id: %v, %q", err, other.ID())
	}

	in, stray := newInbox(), newInbox()
	unsub, err := b.Subscribe("room.x", in.handle)
	if err != nil {
		t.Fatal(err)
	}
	// Another prefix is another bus: it hears nothing of this one.
	unsubOther, err := other.Subscribe("room.x", stray.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer unsubOther()
	// Subscribe returned once the server had the subscription: what is
	// published now arrives, in order.
	for _, m := range []string{"one", "two", "three"} {
		if err := a.Publish("room.x", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if got := in.await(t, 3); len(got) != 3 || got[0] != "one" || got[2] != "three" {
		t.Fatalf("got %q", got)
	}
	if err := unsub(); err != nil {
		t.Fatal(err)
	}
	if err := unsub(); err != nil {
		t.Fatalf("a second unsubscribe: %v", err)
	}
	a.Publish("room.x", []byte("after"))
	nc1.Flush()
	nc2.Flush()
	time.Sleep(50 * time.Millisecond)
	if got := in.await(t, 0); len(got) != 3 {
		t.Fatalf("after unsubscribe: %q", got)
	}
	if got := stray.await(t, 0); len(got) != 0 {
		t.Fatalf("another prefix heard %q", got)
	}
	// Unsubscribing after the connection closed is not an error.
	unsub2, err := b.Subscribe("room.y", in.handle)
	if err != nil {
		t.Fatal(err)
	}
	nc2.Close()
	if err := unsub2(); err != nil {
		t.Fatalf("unsubscribe after close: %v", err)
	}
	if err := b.Publish("room.y", []byte("x")); err == nil {
		t.Fatal("publish on a closed connection succeeded")
	}
}

func TestNewRefusesBadPrefixes(t *testing.T) {
	nc, _ := connect(t)
	for _, p := range []string{"", ".", "a..b", "a.*", "a.>", "a b", "a.", ".a"} {
		if _, err := natsbus.New(nc, p, natsbus.Options{}); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
	if _, err := natsbus.New(nil, "a", natsbus.Options{}); err == nil {
		t.Error("a nil connection accepted")
	}
	if _, err := natsbus.New(nc, "a", natsbus.Options{ID: "x\ny"}); err == nil {
		t.Error("an id with a newline accepted")
	}
}
