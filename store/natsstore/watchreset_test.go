package natsstore_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/natsstore"
)

// cutProxy forwards TCP connections to a NATS server until cut, which
// closes them and refuses new ones until restored.
type cutProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		l.Close()
		p.setCut(true)
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) url() string { return "nats://" + p.l.Addr().String() }

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(s, c); s.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, s); c.Close() }()
		p.mu.Unlock()
	}
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestWatchResumesAfterReconnectBeforeFirstMessage: a store's consumer
// that has delivered nothing yet when its connection drops must not miss
// what other writers store while it is away. (An ordered consumer created
// with DeliverNew that has delivered nothing recreates itself with
// DeliverNew again after a reconnection, skipping everything stored
// meanwhile; nothing then tells the watches.)
func TestWatchResumesAfterReconnectBeforeFirstMessage(t *testing.T) {
	ctx := context.Background()
	node := startNode(t)
	proxy := newCutProxy(t, node.Addr().String())
	ncA, err := nats.Connect(proxy.url(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer ncA.Close()
	ncB := connect(t, node)
	const prefix = "watchreset"
	a, err := natsstore.New(ctx, ncA, natsstore.Options{Prefix: prefix, RequestTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := natsstore.New(ctx, ncB, natsstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	calls := make(chan syncd.StoredChange, 64)
	stop := a.Watch("doc", func(c syncd.StoredChange) {
		select {
		case calls <- c:
		default:
		}
	})
	defer stop()
	// The consumer's start notice: from here on, the consumer runs.
	select {
	case <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("no start notice")
	}

	proxy.setCut(true)
	waitFor(t, 10*time.Second, "A to lose its connection", func() bool { return ncA.Status() != nats.CONNECTED })
	if err := b.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "doc", Epoch: "01JWRESET00000000000000001"}}}); err != nil {
		t.Fatal(err)
	}
	proxy.setCut(false)
	waitFor(t, 10*time.Second, "A to reconnect", func() bool { return ncA.Status() == nats.CONNECTED })

	select {
	case <-calls:
	case <-time.After(5 * time.Second):
		t.Fatal("A's watch was never told of the document B created while A's connection was down")
	}
}
