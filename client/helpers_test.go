package client_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/internal/testenv"
	"github.com/deltasync/syncd/server"
)

// TestMain fails the package if a test leaves a goroutine behind: every
// client and server a test starts must be stopped by its end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait; it exists so that a bug fails a test
// instead of hanging the suite.
const waitTimeout = 30 * time.Second

// env is a real server on 127.0.0.1 over an engine and a store
// (testenv.Start), with the names these tests use.
type env struct {
	*testenv.Server
	t      testing.TB
	engine *syncd.Engine
	store  syncd.Store
	server *server.Server
	url    string // ws://127.0.0.1:port/ws
	addr   string // 127.0.0.1:port
}

func newEnv(t testing.TB, eo syncd.Options, so server.Options) *env {
	t.Helper()
	return newEnvStore(t, nil, eo, so)
}

func quietLogger() *slog.Logger { return testenv.Quiet() }

// newEnvStore is newEnv over st (nil: a new memstore), which it closes.
func newEnvStore(t testing.TB, st syncd.Store, eo syncd.Options, so server.Options) *env {
	t.Helper()
	s := testenv.Start(t, testenv.Options{Engine: eo, Server: so, Store: st})
	return &env{Server: s, t: t, engine: s.Engine, store: s.Store, server: s.Server, url: s.URL, addr: s.Addr}
}

// close shuts the server, the engine and the store down; it may be called
// early (restart tests).
func (ev *env) close() { ev.Close() }

// commit commits a merge patch from Go (no client id).
func (ev *env) commit(doc string, patch any) *syncd.Op {
	ev.t.Helper()
	return ev.Commit(doc, patch)
}

func (ev *env) snapshot(doc string) *syncd.DocState {
	ev.t.Helper()
	return ev.State(doc)
}

// ops returns every operation of doc still held, in order.
func (ev *env) ops(doc string) []*syncd.Op {
	ev.t.Helper()
	return ev.Ops(doc)
}

// dial connects a client with test-friendly backoff.
func dial(t testing.TB, url string, mod func(*client.Options)) *client.Client {
	t.Helper()
	return testenv.DialClient(t, url, mod)
}

func join(t testing.TB, c *client.Client, doc string) *client.Doc {
	t.Helper()
	return testenv.Join(t, c, doc)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// converged waits until every handle has settled its edits and reached the
// server's head, then checks that each view equals the server's state.
func converged(t testing.TB, ev *env, doc string, docs ...*client.Doc) {
	t.Helper()
	ctx := ctxT(t)
	for i, d := range docs {
		if err := d.Settled(ctx); err != nil {
			t.Fatalf("client %d: Settled: %v (pending %d)", i, err, d.Pending())
		}
	}
	snap := ev.snapshot(doc)
	want, err := delta.Decode(snap.State)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range docs {
		if err := d.WaitRev(ctx, snap.Rev); err != nil {
			t.Fatalf("client %d: at rev %d, server at %d: %v", i, d.Rev(), snap.Rev, err)
		}
		if d.Rev() != snap.Rev || d.Epoch() != snap.Epoch {
			t.Fatalf("client %d at %s@%d, server at %s@%d", i, d.Epoch(), d.Rev(), snap.Epoch, snap.Rev)
		}
		if got := d.View(); !delta.Equal(got, want) {
			g, _ := delta.Encode(got)
			t.Fatalf("client %d view differs from the server's:\n got %.300s\nwant %.300s", i, g, snap.State)
		}
	}
}

// proxy is a TCP proxy between clients and the server that can drop every
// connection at once and refuse new ones for a while: the network faults
// of the chaos tests.
type proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	target string
	paused bool
	muted  atomic.Bool
	conns  map[net.Conn]time.Time // → when it was opened
	wg     sync.WaitGroup
	url    string
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]time.Time{}, url: "ws://" + ln.Addr().String() + "/ws"}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target, paused := p.target, p.paused
		p.mu.Unlock()
		if paused {
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", target, time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		now := time.Now()
		p.conns[c], p.conns[up] = now, now
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up, true)
		go p.pipe(up, c, false)
	}
}

// pipe copies src to dst; what the server sends is thrown away while the
// proxy is muted, as if the network lost it.
func (p *proxy) pipe(dst, src net.Conn, fromServer bool) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !(fromServer && p.muted.Load()) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// drop closes every proxied connection, as a network failure would, but
// for those opened in the last 100ms. A connection dropped during its
// upgrade can leave the server a complete upgrade request that it handles
// after the client's next connection: that ghost then replaces the live
// connection (4409), and the client rightly stops (PROTOCOL.md §8). Real
// networks can do this too, rarely; the chaos tests leave it out.
func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c, opened := range p.conns {
		if time.Since(opened) > 100*time.Millisecond {
			c.Close()
		}
	}
}

// dropAll closes every proxied connection.
func (p *proxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// pause drops every connection and refuses new ones until resume.
func (p *proxy) pause() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
	p.dropAll()
}

func (p *proxy) resume() {
	p.mu.Lock()
	p.paused = false
	p.mu.Unlock()
}

func (p *proxy) setTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.ln.Close()
	p.dropAll()
	p.wg.Wait()
}

var _ = http.StatusOK
