package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/webhook"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"
)

// loadWriter is one client writing pipelined UPDATEs over a real WebSocket
// until the server closes the connection.
type loadWriter struct {
	t      *testing.T
	c      *wsClient
	idx    int
	mu     sync.Mutex
	sent   []string
	acked  map[string]bool
	refuse map[string]string // clientReqId → code
	code   int               // close code (0: no close frame)
	closed time.Time
	done   chan struct{} // the reader ended
	wrote  chan struct{} // the writer ended
}

func reqID(n int) string { return fmt.Sprintf("r-%06d", n) }

func (w *loadWriter) run(doc string, stop <-chan struct{}) {
	w.done, w.wrote = make(chan struct{}), make(chan struct{})
	w.acked, w.refuse = map[string]bool{}, map[string]string{}
	go func() { // reader
		defer close(w.done)
		for {
			w.c.ws.SetReadDeadline(time.Now().Add(timeout))
			_, b, err := w.c.ws.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				w.mu.Lock()
				if errors.As(err, &ce) {
					w.code = ce.Code
				}
				w.closed = time.Now()
				w.mu.Unlock()
				return
			}
			var m message
			json.Unmarshal(b, &m)
			switch m.Type {
			case "SYNC.DELTAS":
				var d deltas
				json.Unmarshal(m.Payload, &d)
				w.mu.Lock()
				for _, op := range d.Operations {
					if op.ClientID == w.c.author {
						w.acked[op.ClientReqID] = true
					}
				}
				w.mu.Unlock()
			case "ERROR":
				var e struct {
					Code    string `json:"code"`
					Details struct {
						ClientReqID string `json:"clientReqId"`
					} `json:"details"`
				}
				json.Unmarshal(m.Payload, &e)
				w.mu.Lock()
				w.refuse[e.Details.ClientReqID] = e.Code
				w.mu.Unlock()
			}
		}
	}()
	go func() { // writer
		defer close(w.wrote)
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			case <-w.done:
				return
			default:
			}
			id := reqID(n)
			val := fmt.Sprintf("c%d-%s", w.idx, id)
			b, _ := json.Marshal(map[string]any{"type": "UPDATE", "meta": map[string]any{"timestamp": time.Now().UnixMilli()},
				"payload": map[string]any{"doc": doc, "clientReqId": id,
					"patch": []any{map[string]any{"op": "add", "path": "/log/-", "value": val}}}})
			w.mu.Lock()
			w.sent = append(w.sent, id)
			w.mu.Unlock()
			if err := w.c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				w.mu.Lock()
				w.sent = w.sent[:len(w.sent)-1] // never left
				w.mu.Unlock()
				return
			}
			time.Sleep(500 * time.Microsecond)
		}
	}()
}

// TestShutdownUnderLoadLosesNothing: several clients write over real
// WebSockets while Close runs (drain included). Every acknowledged edit is
// in the store after a restart, exactly once; each client's connection ends
// with 1001; /readyz answers 503 before the first connection is closed;
// resending the edits whose outcome a client did not learn applies none of
// them twice.
func TestShutdownUnderLoadLosesNothing(t *testing.T) { shutdownUnderLoad(t) }

// TestShutdownUnderLoadLosesNothingNATS: the same with -store nats, on
// an embedded node.
func TestShutdownUnderLoadLosesNothingNATS(t *testing.T) {
	shutdownUnderLoad(t, "-store", "nats", "-cluster-node", "alpha")
}

func shutdownUnderLoad(t *testing.T, extra ...string) {
	dir := t.TempDir()
	bolt := len(extra) == 0
	const doc = "load/doc"
	const drain = 300 * time.Millisecond
	m := boot(t, dir, append([]string{"-drain", drain.String(), "-rate", "100000", "-update-rate", "100000"}, extra...)...)
	setup := dialWS(t, wsURL(m), "", nil)
	setup.send("JOIN", map[string]any{"doc": doc})
	setup.expect("SYNC.SNAPSHOT", nil)
	setup.edit(doc, "s-1", map[string]any{"log": []any{}})
	setup.ws.Close()

	const n = 4
	ws := make([]*loadWriter, n)
	ids := make([]string, n)
	stop := make(chan struct{})
	for i := range ws {
		ids[i] = ulid.Make().String()
		c := dialWS(t, wsURL(m), ids[i], nil)
		c.send("JOIN", map[string]any{"doc": doc})
		c.expect("SYNC.SNAPSHOT", nil)
		ws[i] = &loadWriter{t: t, c: c, idx: i}
	}
	for _, w := range ws {
		w.run(doc, stop)
	}
	// /readyz watcher.
	var notReady atomic.Int64
	readyDone := make(chan struct{})
	go func() {
		defer close(readyDone)
		addr := "http://" + m.Addr() + "/readyz"
		for {
			resp, err := http.Get(addr)
			if err != nil {
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				notReady.Store(time.Now().UnixNano())
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(400 * time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	close(stop)
	<-readyDone
	for _, w := range ws {
		<-w.done
		<-w.wrote
	}
	nr := notReady.Load()
	if nr == 0 {
		t.Fatal("/readyz never answered 503")
	}
	for i, w := range ws {
		if w.code != websocket.CloseGoingAway {
			t.Errorf("client %d: close code %d, want 1001", i, w.code)
		}
		if w.closed.UnixNano() < nr {
			t.Errorf("client %d closed %v before /readyz answered 503", i, time.Unix(0, nr).Sub(w.closed))
		}
		t.Logf("client %d: sent %d, acked %d, refused %v", i, len(w.sent), len(w.acked), w.refuse)
	}

	// After a clean stop syncd.db alone holds everything (docs/operations.md):
	// a copy of it without the log has every acknowledged edit.
	if bolt {
		alone := t.TempDir()
		if b, err := os.ReadFile(filepath.Join(dir, "syncd.db")); err != nil {
			t.Fatal(err)
		} else if err := os.WriteFile(filepath.Join(alone, "syncd.db"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		ma := boot(t, alone)
		{
			c := dialWS(t, wsURL(ma), "", nil)
			c.send("JOIN", map[string]any{"doc": doc})
			var s snapshot
			c.expect("SYNC.SNAPSHOT", &s)
			var st struct {
				Log []string `json:"log"`
			}
			json.Unmarshal(s.State, &st)
			have := map[string]bool{}
			for _, v := range st.Log {
				have[v] = true
			}
			for i, w := range ws {
				for id := range w.acked {
					if !have[fmt.Sprintf("c%d-%s", i, id)] {
						t.Errorf("syncd.db without its log: acknowledged c%d-%s missing", i, id)
					}
				}
			}
			c.ws.Close()
			ma.Close()
		}
	}

	// Restart: every acknowledged edit is there, once.
	m2 := boot(t, dir, append([]string{"-rate", "100000", "-update-rate", "100000"}, extra...)...)
	count := func() map[string]int {
		c := dialWS(t, wsURL(m2), "", nil)
		c.send("JOIN", map[string]any{"doc": doc})
		var s snapshot
		c.expect("SYNC.SNAPSHOT", &s)
		c.ws.Close()
		var st struct {
			Log []string `json:"log"`
		}
		if err := json.Unmarshal(s.State, &st); err != nil {
			t.Fatalf("state %s: %v", s.State, err)
		}
		got := map[string]int{}
		for _, v := range st.Log {
			got[v]++
		}
		return got
	}
	got := count()
	for i, w := range ws {
		for id := range w.acked {
			if k := got[fmt.Sprintf("c%d-%s", i, id)]; k != 1 {
				t.Errorf("client %d: acknowledged %s is in the store %d times", i, id, k)
			}
		}
		for id, code := range w.refuse {
			if k := got[fmt.Sprintf("c%d-%s", i, id)]; k != 0 {
				t.Errorf("client %d: %s refused %s but in the store %d times", i, id, code, k)
			}
		}
	}
	// Clients resend what they do not know the outcome of.
	for i, w := range ws {
		c := dialWS(t, wsURL(m2), ids[i], nil)
		c.send("JOIN", map[string]any{"doc": doc})
		c.expect("SYNC.SNAPSHOT", nil)
		pending := 0
		for _, id := range w.sent {
			if w.acked[id] || w.refuse[id] != "" {
				continue
			}
			pending++
			b, _ := json.Marshal(map[string]any{"type": "UPDATE", "meta": map[string]any{"timestamp": time.Now().UnixMilli()},
				"payload": map[string]any{"doc": doc, "clientReqId": id,
					"patch": []any{map[string]any{"op": "add", "path": "/log/-", "value": fmt.Sprintf("c%d-%s", i, id)}}}})
			c.ws.WriteMessage(websocket.TextMessage, b)
			time.Sleep(12 * time.Millisecond)
		}
		// A marker edit, then wait for its ack: everything before is decided.
		c.send("UPDATE", map[string]any{"doc": doc, "patch": map[string]any{"done": true}, "clientReqId": "z-999999"})
		dups := 0
	wait:
		for {
			msg := c.read()
			switch msg.Type {
			case "ERROR":
				var e struct {
					Code string `json:"code"`
				}
				json.Unmarshal(msg.Payload, &e)
				if e.Code != "ALREADY_EXISTS" {
					t.Errorf("client %d: resend refused %s", i, msg.Payload)
				}
				dups++
			case "SYNC.DELTAS":
				var d deltas
				json.Unmarshal(msg.Payload, &d)
				for _, op := range d.Operations {
					if op.ClientID == c.author && op.ClientReqID == "z-999999" {
						break wait
					}
				}
			}
		}
		t.Logf("client %d resent %d (%d already decided)", i, pending, dups)
		c.ws.Close()
	}
	got = count()
	for v, k := range got {
		if k != 1 {
			t.Errorf("%s is in the store %d times after the resends", v, k)
		}
	}
	// Nothing refused these edits but the shutdown: each one sent is in.
	for i, w := range ws {
		for _, id := range w.sent {
			if got[fmt.Sprintf("c%d-%s", i, id)] != 1 {
				t.Errorf("client %d: %s sent, never refused, missing after the resends", i, id)
			}
		}
	}
}

// TestShutdownBoundedWithClientThatStopsReading: a client that stops
// reading while the server has plenty to send it (its socket buffers
// full, the server's write to it blocked) must not hold Close past
// -shutdown-timeout plus the store's part.
func TestShutdownBoundedWithClientThatStopsReading(t *testing.T) {
	const shutdownTimeout = 1 * time.Second
	dir := t.TempDir()
	const doc = "stuck/doc"
	m := boot(t, dir, "-shutdown-timeout", shutdownTimeout.String(), "-write-timeout", "60s",
		"-rate", "100000", "-update-rate", "100000", "-queue-bytes", "67108864")
	stuck := dialWS(t, wsURL(m), "", nil)
	stuck.send("JOIN", map[string]any{"doc": doc})
	stuck.expect("SYNC.SNAPSHOT", nil)
	// stuck reads nothing from now on.
	w := dialWS(t, wsURL(m), "", nil)
	w.send("JOIN", map[string]any{"doc": doc})
	w.expect("SYNC.SNAPSHOT", nil)
	big := make([]byte, 200<<10)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	for i := 0; i < 60; i++ {
		w.edit(doc, reqID(i+1), map[string]any{"big": string(big[:len(big)-i])})
	}
	acked := 60
	start := time.Now()
	err := m.Close()
	took := time.Since(start)
	if bound := shutdownTimeout + storeCloseTimeout; took > bound {
		t.Fatalf("Close took %v, bound %v (err %v)", took, bound, err)
	}
	t.Logf("Close returned after %v: %v", took.Round(time.Millisecond), err)
	m2 := boot(t, dir)
	c := dialWS(t, wsURL(m2), "", nil)
	c.send("JOIN", map[string]any{"doc": doc})
	var s snapshot
	c.expect("SYNC.SNAPSHOT", &s)
	if s.Rev != uint64(acked) {
		t.Fatalf("after restart rev %d, want %d", s.Rev, acked)
	}
}

// TestSecondSignalDuringDrain: SIGTERM starts the drain (/readyz 503,
// connections open); a second signal (SIGINT) kills the process at once,
// as documented; the next start opens the data cleanly with every
// acknowledged edit.
func TestSecondSignalDuringDrain(t *testing.T) {
	dir := t.TempDir()
	p := startMainProc(t, dir, "-addr 127.0.0.1:0 -log-format json -drain 5s")
	url := p.url
	readyz := strings.TrimSuffix(strings.Replace(url, "ws://", "http://", 1), "/ws") + "/readyz"
	c := dialWS(t, url, "", nil)
	c.send("JOIN", map[string]any{"doc": "sig2/doc"})
	c.expect("SYNC.SNAPSHOT", nil)
	var last operation
	for i := 1; i <= 20; i++ {
		last = c.edit("sig2/doc", reqID(i), map[string]any{"n": i})
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	for i := 0; ; i++ {
		resp, err := http.Get(readyz)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if i == 200 {
			t.Fatal("/readyz never answered 503")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Still serving during the drain: one more edit.
	last = c.edit("sig2/doc", reqID(21), map[string]any{"n": 21})
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		err := p.err
		if took := time.Since(start); took > time.Second {
			t.Fatalf("second signal: exited after %v (%v), want at once", took, err)
		}
		t.Logf("second signal: %v", err)
	case <-time.After(3 * time.Second):
		t.Fatal("second signal did not end the process")
	}
	m := boot(t, dir)
	c2 := dialWS(t, wsURL(m), "", nil)
	c2.send("JOIN", map[string]any{"doc": "sig2/doc"})
	var s snapshot
	c2.expect("SYNC.SNAPSHOT", &s)
	if s.Rev != last.Rev || !strings.Contains(string(s.State), `"n":21`) {
		t.Fatalf("after the second signal: %+v", s)
	}
}

// TestSDKClientsAcrossGracefulRestart: Go SDK clients keep editing while
// syncd stops (Close, drain included) and starts again on the same
// address; they reconnect, resend what they did not see decided, and in
// the end every edit any of them made is in the document exactly once,
// and none was rejected.
func TestSDKClientsAcrossGracefulRestart(t *testing.T) {
	dir := t.TempDir()
	const doc = "sdk/doc"
	flags := []string{"-rate", "100000", "-update-rate", "100000", "-drain", "200ms"}
	m := boot(t, dir, flags...)
	addr := m.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 3*timeout)
	defer cancel()
	const n = 3
	type sdk struct {
		c      *client.Client
		d      *client.Doc
		made   []string
		reject []client.Rejection
		mu     sync.Mutex
	}
	cs := make([]*sdk, n)
	for i := range cs {
		s := &sdk{}
		c, err := client.Dial(ctx, client.Options{URL: wsURL(m), MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
			OnReject: func(r client.Rejection) { s.mu.Lock(); s.reject = append(s.reject, r); s.mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		d, err := c.Join(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := d.Merge(map[string]any{"c0": []any{}, "c1": []any{}, "c2": []any{}}); err != nil {
				t.Fatal(err)
			}
			if err := d.Settled(ctx); err != nil {
				t.Fatal(err)
			}
		}
		s.c, s.d = c, d
		cs[i] = s
	}
	for _, s := range cs {
		if err := s.d.WaitRev(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				v := fmt.Sprintf("c%d-%d", i, k)
				if _, err := s.d.Patch([]any{map[string]any{"op": "add", "path": fmt.Sprintf("/c%d/-", i), "value": v}}); err != nil {
					time.Sleep(time.Millisecond)
					continue
				}
				s.mu.Lock()
				s.made = append(s.made, v)
				s.mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // edits made while the server is down
	m2 := boot(t, dir, append(flags, "-addr", addr)...)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	for i, s := range cs {
		if err := s.d.Settled(ctx); err != nil {
			t.Fatalf("client %d: %v (pending %d)", i, err, s.d.Pending())
		}
	}
	c := dialWS(t, wsURL(m2), "", nil)
	c.send("JOIN", map[string]any{"doc": doc})
	var snap snapshot
	c.expect("SYNC.SNAPSHOT", &snap)
	var per map[string][]string
	if err := json.Unmarshal(snap.State, &per); err != nil {
		t.Fatal(err)
	}
	var st struct{ Log []string }
	for _, l := range per {
		st.Log = append(st.Log, l...)
	}
	got := map[string]int{}
	for _, v := range st.Log {
		got[v]++
	}
	for i, s := range cs {
		if len(s.reject) > 0 {
			t.Errorf("client %d: rejections %+v", i, s.reject)
		}
		for _, v := range s.made {
			if got[v] != 1 {
				t.Errorf("client %d: %s in the document %d times", i, v, got[v])
			}
		}
		t.Logf("client %d made %d edits", i, len(s.made))
	}
	if len(st.Log) != len(got) {
		t.Errorf("%d entries, %d distinct", len(st.Log), len(got))
	}
}

// TestWebhooksAcrossGracefulStopUnderLoad: clients in three documents,
// with presence, write while syncd stops gracefully; after the restart
// every document's changes are reported contiguously up to its head, and
// each client's presence joined and left exactly once.
func TestWebhooksAcrossGracefulStopUnderLoad(t *testing.T) {
	const secret = "whsec-test-secret"
	r := newReceiver(t, secret)
	r.up.Store(true)
	dir := t.TempDir()
	args := []string{"-webhook", r.srv.URL, "-webhook-secret", secret, "-webhook-debounce", "30ms",
		"-webhook-retry-min", "10ms", "-webhook-retry-max", "100ms", "-rate", "100000", "-update-rate", "100000"}
	m := boot(t, dir, args...)
	const n = 3
	ws := make([]*loadWriter, n)
	stop := make(chan struct{})
	for i := range ws {
		c := dialWS(t, wsURL(m), ulid.Make().String(), nil)
		doc := fmt.Sprintf("whl/%d", i)
		c.send("JOIN", map[string]any{"doc": doc, "presence": map[string]any{"i": i}})
		c.expect("SYNC.SNAPSHOT", nil)
		c.edit(doc, "a-0", map[string]any{"log": []any{}})
		ws[i] = &loadWriter{t: t, c: c, idx: i}
	}
	for i, w := range ws {
		w.run(fmt.Sprintf("whl/%d", i), stop)
	}
	time.Sleep(300 * time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	for _, w := range ws {
		<-w.done
		<-w.wrote
	}
	m2 := boot(t, dir, args...)
	heads := make([]uint64, n)
	for i := range ws {
		c := dialWS(t, wsURL(m2), "", nil)
		doc := fmt.Sprintf("whl/%d", i)
		c.send("JOIN", map[string]any{"doc": doc})
		c.expect("SYNC.SNAPSHOT", nil)
		heads[i] = c.edit(doc, "z-1", map[string]any{"after": true}).Rev
		c.ws.Close()
	}
	deadline := time.Now().Add(timeout)
	for {
		done := true
		for i := range ws {
			if !checkDocEvents(t, r.perDoc(fmt.Sprintf("whl/%d", i)), heads[i]) {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			for i := range ws {
				t.Logf("whl/%d (head %d): %+v", i, heads[i], r.perDoc(fmt.Sprintf("whl/%d", i)))
			}
			t.Fatal("document events missing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	for i, w := range ws {
		joined, left := 0, 0
		for _, ev := range r.perDoc(fmt.Sprintf("whl/%d", i)) {
			if ev.AuthorID != w.c.author {
				continue
			}
			switch ev.Type {
			case webhook.TypePresenceJoined:
				joined++
			case webhook.TypePresenceLeft:
				left++
			}
		}
		if joined != 1 || left != 1 {
			t.Errorf("client %d: presence joined %d, left %d times; want 1 and 1: %+v", i, joined, left, r.perDoc(fmt.Sprintf("whl/%d", i)))
		}
	}
}

// TestSIGTERMWithStuckClientExitsInBound: a real process, a client that
// stops reading with the server's writes to it blocked, and writers
// going: SIGTERM ends the process cleanly within drain + shutdown-timeout
// + 5 s, and every acknowledged edit is there after the restart.
func TestSIGTERMWithStuckClientExitsInBound(t *testing.T) {
	dir := t.TempDir()
	p := startMainProc(t, dir, "-addr 127.0.0.1:0 -log-format json -drain 200ms -shutdown-timeout 1s -write-timeout 60s -queue-bytes 67108864 -rate 100000 -update-rate 100000")
	url := p.url
	const doc = "stuck2/doc"
	stuck := dialWS(t, url, "", nil)
	stuck.send("JOIN", map[string]any{"doc": doc})
	stuck.expect("SYNC.SNAPSHOT", nil)
	w := dialWS(t, url, "", nil)
	w.send("JOIN", map[string]any{"doc": doc})
	w.expect("SYNC.SNAPSHOT", nil)
	big := make([]byte, 200<<10)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	var last operation
	for i := 0; i < 60; i++ {
		last = w.edit(doc, reqID(i+1), map[string]any{"big": string(big[:len(big)-i])})
	}
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		err := p.err
		took := time.Since(start)
		if err != nil {
			t.Fatalf("exit after %v: %v\n%s", took, err, p.stderr.String())
		}
		if bound := 200*time.Millisecond + time.Second + storeCloseTimeout; took > bound {
			t.Fatalf("exited after %v, bound %v", took, bound)
		}
		t.Logf("exited after %v", took.Round(time.Millisecond))
	case <-time.After(2 * timeout):
		t.Fatal("syncd did not exit after SIGTERM")
	}
	m := boot(t, dir)
	c := dialWS(t, wsURL(m), "", nil)
	c.send("JOIN", map[string]any{"doc": doc})
	var s snapshot
	c.expect("SYNC.SNAPSHOT", &s)
	if s.Rev != last.Rev {
		t.Fatalf("after SIGTERM rev %d, want %d", s.Rev, last.Rev)
	}
}

// TestShutdownStopsAcceptingBeforeWebSocketsFinish: docs/operations.md,
// step 2: "syncd stops accepting connections, closes every WebSocket with
// 1001". While a WebSocket that does not answer the close holds step 2,
// a new connection must not be served.
func TestShutdownStopsAcceptingBeforeWebSocketsFinish(t *testing.T) {
	m := boot(t, t.TempDir(), "-api-key", "k")
	quiet := dialWS(t, wsURL(m), "", nil) // never reads: never answers the close
	_ = quiet
	addr := m.Addr()
	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	time.Sleep(500 * time.Millisecond) // step 2 under way, held by quiet (CloseTimeout 3 s)
	select {
	case err := <-closed:
		t.Fatalf("Close returned at once (%v): nothing held step 2", err)
	default:
	}
	tr := &http.Transport{DisableKeepAlives: true}
	resp, err := (&http.Client{Transport: tr, Timeout: time.Second}).Get("http://" + addr + "/healthz")
	if err == nil {
		resp.Body.Close()
		t.Errorf("a new connection during step 2 was served: %d", resp.StatusCode)
	}
	<-closed
}
