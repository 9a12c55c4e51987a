package client_test

// Edges of the client's life cycle found by a review against PROTOCOL.md:
// closing during a reconnect, backoff, refusals that are not what they
// look like, presence values the server cannot take, abandoned joins.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// helloDelayProxy is a TCP proxy that, while delay is set, holds back what
// the server sends after its HTTP upgrade response (the HELLO) for that
// long: the client's Dial has succeeded and it is waiting for HELLO.
type helloDelayProxy struct {
	ln       net.Listener
	target   string
	delay    atomic.Int64 // ns
	cut      atomic.Bool  // close each new connection right after HELLO
	accepted atomic.Int64
	upgraded chan struct{}
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
	url      string
}

func newHelloDelayProxy(t *testing.T, target string) *helloDelayProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &helloDelayProxy{ln: ln, target: target, upgraded: make(chan struct{}, 16), url: "ws://" + ln.Addr().String() + "/ws"}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { // client → server
				defer p.wg.Done()
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, err := up.Write(buf[:n]); err != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				c.Close()
				up.Close()
			}()
			p.accepted.Add(1)
			delay := time.Duration(p.delay.Load())
			cut := p.cut.Load()
			go func() { // server → client
				defer p.wg.Done()
				var head []byte
				headerDone := false
				buf := make([]byte, 32<<10)
				for {
					n, err := up.Read(buf)
					data := buf[:n]
					if n > 0 && headerDone && cut {
						c.Write(data) // HELLO, then the connection drops
						break
					}
					if n > 0 && !headerDone && (delay > 0 || cut) {
						head = append(head, data...)
						i := bytes.Index(head, []byte("\r\n\r\n"))
						if i < 0 {
							data = nil
						} else {
							headerDone = true
							if _, err := c.Write(head[:i+4]); err != nil {
								break
							}
							select {
							case p.upgraded <- struct{}{}:
							default:
							}
							time.Sleep(delay)
							data = head[i+4:]
							if cut && len(data) > 0 {
								c.Write(data)
								break
							}
						}
					}
					if len(data) > 0 {
						if _, err := c.Write(data); err != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				c.Close()
				up.Close()
			}()
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *helloDelayProxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *helloDelayProxy) close() {
	p.ln.Close()
	p.dropAll()
	p.wg.Wait()
}

// TestCloseWhileReconnectWaitsForHello: Close during a reconnect, after the
// upgrade and before HELLO, must still end the client: Close sees no
// session then, so the session that the reconnect opens after it must not
// be started (served, kept alive by heartbeats, Close waiting for it).
func TestCloseWhileReconnectWaitsForHello(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	p := newHelloDelayProxy(t, ev.addr)
	c, err := client.Dial(ctxT(t), client.Options{URL: p.url, Logger: quietLogger(), MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	join(t, c, "doc")
	p.delay.Store(int64(300 * time.Millisecond))
	p.dropAll()
	select {
	case <-p.upgraded:
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not reconnect")
	}
	// The client now waits for HELLO, which arrives in 300ms.
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Errorf("Close did not return within 5s: the session opened during Close is still served (client state %v)", c.State())
		p.close() // free it, so that the test ends
		<-done
	}
}

// TestRetryWaitingEditAfterEpochChange: an edit refused with a retryable
// code waits, before it is re-issued, for the revision the server had when
// it refused it (edit.waitRev). If the document gets a new epoch meanwhile
// (deleted and re-created, PROTOCOL.md §6.4), the revisions start again
// from 0 and that wait no longer means anything; the edit (and every later
// edit of the document, which queues behind it) must still be sent in the
// new epoch (§6.8 step 6), not wait until the new history happens to reach
// the old revision.
func TestRetryWaitingEditAfterEpochChange(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{Limits: server.Limits{UpdatesPerSecond: 0.5, UpdateBurst: 1}})
	for i := 0; i < 5; i++ {
		ev.commit("doc", map[string]int{"n": i})
	}
	c := dial(t, ev.url, nil)
	d := join(t, c, "doc")
	if _, err := d.Merge(`{"a":1}`); err != nil { // takes the only token
		t.Fatal(err)
	}
	if _, err := d.Merge(`{"b":2}`); err != nil { // refused RESOURCE_EXHAUSTED, serverRev 6, retry after ~2s
		t.Fatal(err)
	}
	if err := d.WaitRev(ctxT(t), 6); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the refusal of the second arrives
	if err := ev.engine.Delete(context.Background(), "doc"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if err := d.Settled(ctx); err != nil {
		t.Fatalf("the refused edit never left the queue after the epoch changed: %v (pending %d, rev %d)", err, d.Pending(), d.Rev())
	}
}

// TestBackoffGrowsWhenJoinsNeverAnswered: a connection counts as
// established, and resets the backoff, only once HELLO *and every JOIN
// answer* have arrived (PROTOCOL.md §9.2 step 5, §9.3). Here every
// connection drops right after HELLO, before the JOIN answer: the backoff
// must grow (base × 2^attempt), not start over at each HELLO, which would
// reconnect every MinBackoff or so, forever.
func TestBackoffGrowsWhenJoinsNeverAnswered(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	p := newHelloDelayProxy(t, ev.addr)
	c := dial(t, p.url, func(o *client.Options) {
		o.MinBackoff = 100 * time.Millisecond
		o.MaxBackoff = 10 * time.Second
	})
	join(t, c, "doc")
	p.cut.Store(true)
	start := p.accepted.Load()
	p.dropAll()
	time.Sleep(2 * time.Second)
	n := p.accepted.Load() - start
	// With the §9.3 backoff from 100 ms (full jitter), 2 s hold about 5
	// attempts; resetting at every HELLO gives about 30.
	if n > 12 {
		t.Fatalf("%d connection attempts in 2s with MinBackoff 100ms while no connection got its JOIN answer: the backoff does not grow", n)
	}
	c.Close()
}

// TestRefusedResubscribeIsNotTakenForTheFloodGuard: after a reconnect the
// client renews its subscriptions with SUBSCRIBE messages that carry no
// correlationId, so a refusal comes back as a plain ERROR. One refused
// RESOURCE_EXHAUSTED because the connection is at its cap of rooms and
// topics (2 × maxDocsPerConnection, PROTOCOL.md §6.11) has no details.doc;
// it is not the flood guard (which §9.4 identifies by
// details.messagesPerSecond), and taken for it, it would make the client
// reconnect, renew the same subscriptions, be refused again: forever.
func TestRefusedResubscribeIsNotTakenForTheFloodGuard(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{Limits: server.Limits{MaxDocsPerConn: 1}})
	p := newHelloDelayProxy(t, ev.addr)
	c := dial(t, p.url, nil)
	for _, topic := range []string{"t1", "t2"} { // 0 rooms + 0, then 1 topic: under the cap of 2
		if err := c.Subscribe(ctxT(t), topic, func(client.Message) {}); err != nil {
			t.Fatal(err)
		}
	}
	join(t, c, "doc") // 0 documents of 1: allowed; the connection now has 3 rooms and topics
	start := p.accepted.Load()
	p.dropAll()
	time.Sleep(2 * time.Second)
	if n := p.accepted.Load() - start; n > 3 {
		t.Fatalf("%d connections in 2s after one drop: a refused re-SUBSCRIBE (no flood guard involved) makes the client reconnect again and again", n)
	}
}

// TestFloodGuardReconnectDoesNotStopTheClient: when the flood guard fires,
// the client closes its own connection (code 1000) to resume on a new one
// (receive.go). Its reader may then read the server's echo of that close
// frame, 1000, which must not be taken for the server's "stop" (PROTOCOL.md
// §8: 1000 = the session ended on purpose, do not reconnect): the server
// never ended the session.
func TestFloodGuardReconnectDoesNotStopTheClient(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{Limits: server.Limits{MessagesPerSecond: 20, Burst: 5}})
	c := dial(t, ev.url, nil)
	d := join(t, c, "doc")
	deadline := time.Now().Add(6 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		if _, err := d.Merge(fmt.Sprintf(`{"n":%d}`, i)); err != nil {
			break
		}
		if i%10 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := c.Err(); err != nil {
		t.Fatalf("the client stopped for good while the server only refused messages over its rate: %v", err)
	}
}

// TestRefusedPresenceDoesNotBreakTheRejoin: a presence value the server
// refuses (here INVALID_ARGUMENT: over maxPresenceBytes) is not kept.
// Every re-join carries the recorded value in JOIN.presence, and a JOIN
// whose presence is refused is refused as a whole (PROTOCOL.md §4.4), for
// good: a kept value would leave the document dead after the next
// reconnect, its edits never sent and nothing reported.
func TestRefusedPresenceDoesNotBreakTheRejoin(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{Limits: server.Limits{MaxPresenceBytes: 100}})
	p := newProxy(t, ev.addr)
	c := dial(t, p.url, nil)
	d := join(t, c, "doc")
	big := map[string]string{"name": strings.Repeat("x", 200)}
	if err := d.SetPresence(ctxT(t), big); err == nil {
		t.Fatal("presence over maxPresenceBytes accepted")
	}
	p.dropAll()
	if _, err := d.Merge(`{"a":1}`); err != nil {
		t.Fatal(err)
	}
	ev.commit("doc", map[string]int{"b": 2})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Settled(ctx); err != nil {
		t.Fatalf("after a reconnect the document never became live again (pending %d, rev %d, server at %d): %v", d.Pending(), d.Rev(), ev.snapshot("doc").Rev, err)
	}
}

// TestAbandonedJoinIsLeft: a Join whose context ends before the answer
// forgets the document on the client, and its JOIN, which has gone out, is
// undone with LEAVE: otherwise the server keeps the document joined for
// the rest of the connection (sends its operations, shows the client in
// its room, counts it against maxDocsPerConnection), and with a limit of
// one document the next Join of another document is refused.
func TestAbandonedJoinIsLeft(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{Limits: server.Limits{MaxDocsPerConn: 1}})
	c := dial(t, ev.url, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Join(ctx, "a"); err == nil {
		t.Fatal("Join with a cancelled context succeeded")
	}
	time.Sleep(200 * time.Millisecond) // the server handles that JOIN
	if _, err := c.Join(ctxT(t), "b"); err != nil {
		t.Fatalf("Join b after giving up on a: %v (the server still has a joined for this client)", err)
	}
}

// TestOversizedPresenceDoesNotLoop: a presence value whose message is over
// maxMessageBytes makes the server close the connection with 1009, after
// which the client must drop that message, never resend it (PROTOCOL.md
// §8). SetPresence refuses such a value before recording it: kept, every
// re-join would carry it in JOIN.presence and be closed 1009 again, the
// client reconnecting forever with the document never live.
func TestOversizedPresenceDoesNotLoop(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{Limits: server.Limits{MaxMessageBytes: 8 << 10, MaxPresenceBytes: 4 << 10}})
	p := newHelloDelayProxy(t, ev.addr)
	c := dial(t, p.url, nil)
	d := join(t, c, "doc")
	start := p.accepted.Load()
	err := d.SetPresence(ctxT(t), map[string]string{"name": strings.Repeat("x", 16<<10)})
	time.Sleep(2 * time.Second)
	n := p.accepted.Load() - start
	if _, merr := d.Merge(`{"a":1}`); merr != nil {
		t.Fatal(merr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	serr := d.Settled(ctx)
	if n > 3 || serr != nil {
		t.Fatalf("SetPresence of a value over maxMessageBytes returned %v; then %d connections in 2s, and the document settles: %v", err, n, serr)
	}
}

// TestRejoinRefusedForGoodIsReported: after a failover, a JOIN that the
// new server refuses for good (here: over its maxDocsPerConnection, which
// a retry cannot mend) leaves the document not live on that connection.
// Settled must say so, rather than wait for ever: it returns the refusal,
// and the other document, re-joined, settles.
func TestRejoinRefusedForGoodIsReported(t *testing.T) {
	a := newEnv(t, syncd.Options{}, server.Options{})
	b := newEnv(t, syncd.Options{}, server.Options{Limits: server.Limits{MaxDocsPerConn: 1}})
	c := dial(t, a.url, func(o *client.Options) {
		o.URLs = []string{b.url}
		o.MinBackoff, o.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	})
	one := join(t, c, "one")
	two := join(t, c, "two")
	a.close() // the client fails over to b, which takes one document only
	ctx, cancel := context.WithTimeout(ctxT(t), 10*time.Second)
	defer cancel()
	// Settled on the old connection would answer at once: wait for the
	// new one (its JOINs are sent as it starts).
	for c.URL() != b.url {
		if ctx.Err() != nil {
			t.Fatalf("the client never failed over to %s (at %s)", b.url, c.URL())
		}
		time.Sleep(5 * time.Millisecond)
	}
	errOne, errTwo := one.Settled(ctx), two.Settled(ctx)
	if (errOne == nil) == (errTwo == nil) {
		t.Fatalf("after failing over to a server that takes one document: Settled %v and %v, want one nil and one the refusal", errOne, errTwo)
	}
	refused := errOne
	if refused == nil {
		refused = errTwo
	}
	var pe *protocol.Error
	if !errors.As(refused, &pe) || pe.Code != protocol.CodeResourceExhausted {
		t.Fatalf("Settled: %v, want the JOIN's RESOURCE_EXHAUSTED refusal", refused)
	}
}
