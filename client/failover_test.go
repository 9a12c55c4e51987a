package client_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/internal/syncdproc"
)

// The failover tests run the real syncd binary as child processes on
// 127.0.0.1 (internal/syncdproc), because what they test is a server that
// dies (SIGKILL) and comes back at another address on the same data.

func startProc(t *testing.T, o syncdproc.Options) *syncdproc.Proc {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a syncd process; skipped under -short")
	}
	return syncdproc.Start(t, o)
}

// freeAddr returns a loopback address nothing listens on: a port the
// system just handed out and that was closed again. Dialing it is refused
// at once, until a test starts a server there.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestFailoverDialSkipsDeadAddress: with [a dead address, a live server],
// Dial connects to the second, says so (URL), and the client works there.
func TestFailoverDialSkipsDeadAddress(t *testing.T) {
	p := startProc(t, syncdproc.Options{})
	dead := "ws://" + freeAddr(t) + "/ws"
	c := dial(t, dead, func(o *client.Options) { o.URLs = []string{p.WS} })
	if got := c.URL(); got != p.WS {
		t.Fatalf("URL() = %s, want the live server %s", got, p.WS)
	}
	d := join(t, c, "failover/dial")
	if _, err := d.Merge(`{"here":true}`); err != nil {
		t.Fatal(err)
	}
	if err := d.Settled(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if d.Rev() != 1 {
		t.Fatalf("rev %d, want 1", d.Rev())
	}
}

// TestFailoverAllDead: when no endpoint answers, Dial fails with every
// endpoint's error, and leaves nothing running.
func TestFailoverAllDead(t *testing.T) {
	a, b := "ws://"+freeAddr(t)+"/ws", "ws://"+freeAddr(t)+"/ws"
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{URL: a, URLs: []string{b}, Logger: quietLogger()})
	if err == nil {
		c.Close()
		t.Fatal("Dial with two dead endpoints succeeded")
	}
	for _, addr := range []string{a, b} {
		host := addr[len("ws://") : len(addr)-len("/ws")]
		if !strings.Contains(err.Error(), host) {
			t.Fatalf("Dial error %q does not name %s", err, host)
		}
	}
}

// TestFailoverResumesOnAnotherInstance: a client writes a stream of edits
// to a server that is killed (SIGKILL) halfway, with edits in flight and
// more made while it is down; the server comes back on the same data
// directory at the client's other URL. The client moves there, resumes
// with deltas (same epoch, no snapshot), and in the end every edit is in
// the document exactly once: nothing acknowledged is lost, nothing is
// applied twice, nothing is refused.
func TestFailoverResumesOnAnotherInstance(t *testing.T) {
	data := t.TempDir()
	p1 := startProc(t, syncdproc.Options{DataDir: data})
	addr2 := freeAddr(t)
	url2 := "ws://" + addr2 + "/ws"

	var mu sync.Mutex
	acked := map[int]int{}     // value → acknowledgements
	var snapshotsAfterJoin int // snapshots after the first JOIN answer
	var rejections []client.Rejection
	c := dial(t, p1.WS, func(o *client.Options) {
		o.URLs = []string{url2}
		o.MinBackoff, o.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
		o.OnReject = func(r client.Rejection) {
			mu.Lock()
			rejections = append(rejections, r)
			mu.Unlock()
		}
	})
	d := join(t, c, "failover/resume")
	if _, err := d.Merge(`{"items":[]}`); err != nil {
		t.Fatal(err)
	}
	if err := d.Settled(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	epoch := d.Epoch()
	d.OnChange(func(ch client.Change) {
		mu.Lock()
		defer mu.Unlock()
		switch ch.Kind {
		case client.ChangeSnapshot:
			snapshotsAfterJoin++
		case client.ChangeAck:
			var ops []struct{ Value int }
			if err := json.Unmarshal(ch.Patches[0], &ops); err == nil && len(ops) == 1 {
				acked[ops[0].Value]++
			}
		}
	})

	const edits = 120
	add := func(i int) {
		t.Helper()
		if _, err := d.Patch(`[{"op":"add","path":"/items/-","value":` + strconv.Itoa(i) + `}]`); err != nil {
			t.Fatalf("edit %d: %v", i, err)
		}
	}
	// The first half, paced so that some are acknowledged and some are in
	// flight when the server dies.
	for i := range edits / 2 {
		add(i)
		if i%8 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	p1.Kill()
	mu.Lock()
	ackedBeforeKill := len(acked)
	mu.Unlock()
	// The second half is made while no server runs.
	for i := edits / 2; i < edits; i++ {
		add(i)
	}
	p2 := startProc(t, syncdproc.Options{DataDir: data, Args: []string{"-addr", addr2}})

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := d.Settled(ctx); err != nil {
		t.Fatalf("Settled after the failover: %v (pending %d)", err, d.Pending())
	}
	if got := c.URL(); got != p2.WS {
		t.Fatalf("URL() = %s, want the restarted server %s", got, p2.WS)
	}
	if d.Epoch() != epoch {
		t.Fatalf("epoch changed from %s to %s: the history was not resumed", epoch, d.Epoch())
	}

	// What the restarted server holds, as a new client sees it.
	other := dial(t, p2.WS, nil)
	od := join(t, other, "failover/resume")
	var state struct{ Items []int }
	if err := od.Get(&state); err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for _, v := range state.Items {
		seen[v]++
	}
	for i := range edits {
		if seen[i] != 1 {
			t.Errorf("edit %d is in the document %d times, want once", i, seen[i])
		}
	}
	if want := 1 + edits; int(od.Rev()) != want {
		t.Errorf("head %d, want %d (one revision per edit)", od.Rev(), want)
	}
	// OnChange runs on the client's event goroutine, after Settled may
	// have returned: wait (bounded) for the last acknowledgements to land.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= edits {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range edits {
		if acked[i] != 1 {
			t.Errorf("edit %d acknowledged %d times, want once", i, acked[i])
		}
	}
	if len(rejections) > 0 {
		t.Errorf("rejections: %+v", rejections)
	}
	if snapshotsAfterJoin > 0 {
		t.Errorf("%d snapshots after the failover, want a resume with deltas", snapshotsAfterJoin)
	}
	t.Logf("%d of %d edits were acknowledged before the kill", ackedBeforeKill, edits)
}

// TestFailoverMovesOnWhenServerShutsDown: a server that shuts down (SIGTERM,
// 1001 going away) is not tried again first: the client's first attempt
// goes to the next endpoint, and succeeds there, with no failed attempt.
func TestFailoverMovesOnWhenServerShutsDown(t *testing.T) {
	a := startProc(t, syncdproc.Options{})
	b := startProc(t, syncdproc.Options{})
	logs := &logRecorder{}
	c := dial(t, a.WS, func(o *client.Options) {
		o.URLs = []string{b.WS}
		o.Logger = slog.New(logs)
	})
	if got := c.URL(); got != a.WS {
		t.Fatalf("first connection to %s, want %s", got, a.WS)
	}
	if err := a.Stop(10 * time.Second); err != nil {
		t.Fatalf("syncd exited with %v", err)
	}
	deadline := time.Now().Add(waitTimeout)
	for c.URL() != b.WS || c.State() != client.StateConnected {
		if time.Now().After(deadline) {
			t.Fatalf("not reconnected to %s: at %s, %s", b.WS, c.URL(), c.State())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := logs.count("syncd client: reconnect failed"); n != 0 {
		t.Fatalf("%d failed attempts before the failover: the stopped server was tried again first", n)
	}
}

// logRecorder is a slog.Handler that keeps the messages it is given.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}

func (l *logRecorder) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m == msg {
			n++
		}
	}
	return n
}
