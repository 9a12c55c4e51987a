package router_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// TestIdleConnectionHasOneGoroutine: after a burst of traffic, an idle
// connection keeps exactly one goroutine, waiting for its input (the
// writer exits when the queue is empty, and the reader goroutines that
// linger to read for the next connection with input leave once the router
// is quiet), plus the router's one heartbeat goroutine.
func TestIdleConnectionHasOneGoroutine(t *testing.T) {
	ts := newServer(t, router.Options{}, nil)
	ts.dial().echo("warm up") // starts the heartbeat goroutine
	want, unwanted := idleWaitFrames()
	waitReaders(t, 1, want, "router.(*Router).nextInput")
	runtime.GC()
	base := runtime.NumGoroutine()
	const n = 20
	for range n {
		c := ts.dial() // a gorilla client has no goroutines of its own
		for range 5 {
			c.echo("busy")
		}
	}
	waitReaders(t, n+1, want, unwanted)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := runtime.NumGoroutine() - base
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d idle connections hold %d goroutines, want %d", n, got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawDial opens a WebSocket connection with a hand-written handshake and
// no client-side machinery, so that measuring memory counts the server's
// side (plus a client socket).
func rawDial(addr string) (net.Conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, err
	}
	var buf [512]byte
	n := 0
	for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
		m, err := nc.Read(buf[n:])
		if err != nil {
			nc.Close()
			return nil, err
		}
		n += m
	}
	if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 101")) {
		nc.Close()
		return nil, io.ErrUnexpectedEOF
	}
	return nc, nil
}

// rawEcho makes an ECHO round trip on a connection from rawDial.
func rawEcho(nc net.Conn, cid string) error {
	if _, err := nc.Write(echoFrame("x", cid)); err != nil {
		return err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(nc, hdr[:2]); err != nil {
		return err
	}
	n := int(hdr[1] & 0x7f)
	if n == 126 {
		if _, err := io.ReadFull(nc, hdr[2:4]); err != nil {
			return err
		}
		n = int(hdr[2])<<8 | int(hdr[3])
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(nc, msg); err != nil {
		return err
	}
	if !bytes.Contains(msg, []byte(`"ECHOED"`)) || !bytes.Contains(msg, []byte(cid)) {
		return fmt.Errorf("echo: got %s", msg)
	}
	return nil
}

// memInUse returns live heap and goroutine stack bytes after a full GC
// (which also shrinks oversized stacks).
func memInUse() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.StackInuse
}

// BenchmarkIdleConnMemory opens 2,000 connections, each of which makes one
// ECHO round trip (so its reader has read a message and run a handler)
// and then stays idle, and reports the heap and stack they cost, per
// connection, from runtime.MemStats: with the router ("B/conn"; its
// stack part, "stack-B/conn", is 2 KiB while readers wait on a fresh
// goroutine, 4 KiB when they wait in gorilla's read path), and for bare
// TCP connection pairs accepted by a plain listener ("tcp-B/conn", the
// floor any server pays). Both include the client's socket. One op is the
// whole measurement.
//
//	go test ./router/ -run '^$' -bench IdleConnMemory -benchtime 1x
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 2000
	for b.Loop() {
		heap, stack := measureRouterConns(b, n)
		b.ReportMetric(heap+stack, "B/conn")
		b.ReportMetric(heap, "heap-B/conn")
		b.ReportMetric(stack, "stack-B/conn")
		heap, stack = measureTCPConns(b, n)
		b.ReportMetric(heap+stack, "tcp-B/conn")
	}
}

func measureRouterConns(b *testing.B, n int) (heap, stack float64) {
	r := router.New(router.Options{})
	defer r.Shutdown(context.Background())
	router.HandleRPC(r, "ECHO", "ECHOED", func(x *router.Ctx, p echo) (echo, error) { return p, nil })
	mux := http.NewServeMux()
	mux.Handle("/ws", r)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	// Warm up: start the heartbeat goroutine and the pools.
	warm, err := rawDial(addr)
	if err != nil {
		b.Fatal(err)
	}
	defer warm.Close()
	heap0, stack0 := memInUse()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := rawDial(addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if err := rawEcho(c, fmt.Sprint("idle-", i)); err != nil {
			b.Fatal(err)
		}
	}
	for r.Len() < n+1 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the upgrade goroutines exit
	heap1, stack1 := memInUse()
	runtime.KeepAlive(conns)
	return perConn(heap0, heap1, n), perConn(stack0, stack1, n)
}

func perConn(before, after uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n)
}

func measureTCPConns(b *testing.B, n int) (heap, stack float64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var accepted []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c)
			mu.Unlock()
		}
	}()
	heap0, stack0 := memInUse()
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	for {
		mu.Lock()
		k := len(accepted)
		mu.Unlock()
		if k == n {
			break
		}
		time.Sleep(time.Millisecond)
	}
	heap1, stack1 := memInUse()
	ln.Close()
	<-done
	for _, c := range append(conns, accepted...) {
		c.Close()
	}
	return perConn(heap0, heap1, n), perConn(stack0, stack1, n)
}

// BenchmarkBroadcast1000 publishes one frame to 1,000 subscribed
// connections over loopback and waits until every client has read it: one
// op is one broadcast, end to end. The clients (1,000 reader goroutines in
// the same process) share the CPU with the server.
//
//	go test ./router/ -run '^$' -bench Broadcast1000 -benchtime 2s
func BenchmarkBroadcast1000(b *testing.B) {
	const n = 1000
	r := router.New(router.Options{QueueBytes: 4 << 20, MessagesPerSecond: -1})
	defer r.Shutdown(context.Background())
	srv := httptest.NewServer(r)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	var received atomic.Int64
	var wg sync.WaitGroup
	var clients []*websocket.Conn
	for i := range n {
		ws, _, err := websocket.DefaultDialer.Dial(url+"?clientId="+newTestULID(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, ws)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, rd, err := ws.NextReader()
				if err != nil {
					return
				}
				io.Copy(io.Discard, rd)
				received.Add(1)
			}
		}()
	}
	defer func() {
		for _, ws := range clients {
			ws.Close()
		}
		wg.Wait()
	}()
	for r.Len() < n {
		time.Sleep(time.Millisecond)
	}
	for _, c := range r.Conns() {
		if err := c.Subscribe(context.Background(), "room"); err != nil {
			b.Fatal(err)
		}
	}
	deltas := protocol.SyncDeltas{Doc: "todo:1", Epoch: "01HZY0J5Q8X6T9V3N2M4K7P1RA", FromRev: 41, ToRev: 42,
		Operations: []protocol.Operation{{Rev: 42, Type: protocol.OpPatch, Payload: []byte(`[{"op":"replace","path":"/items/3/done","value":true}]`), ClientID: "01HZY0J5Q8X6T9V3N2M4K7P1RB", ClientReqID: "r-7", Ts: 1730450000123}}}
	b.ReportAllocs()
	b.ResetTimer()
	want := int64(0)
	for b.Loop() {
		f, err := router.NewFrame(protocol.TypeSyncDeltas, deltas)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.PublishFrame(context.Background(), "room", f, router.PublishOptions{}); err != nil {
			b.Fatal(err)
		}
		want += n
		for received.Load() < want {
			time.Sleep(20 * time.Microsecond) // not Gosched: spinning steals the CPU
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(want), "ns/delivery")
}

// BenchmarkPublishEnqueue1000 measures the publisher's side alone:
// queuing one shared frame on 1,000 connections (whose clients read
// elsewhere). This is what a broadcast costs the goroutine that commits.
func BenchmarkPublishEnqueue1000(b *testing.B) {
	const n = 1000
	r := router.New(router.Options{QueueBytes: 64 << 20, MessagesPerSecond: -1})
	defer r.Shutdown(context.Background())
	srv := httptest.NewServer(r)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var wg sync.WaitGroup
	var clients []*websocket.Conn
	for i := range n {
		ws, _, err := websocket.DefaultDialer.Dial(url+"?clientId="+newTestULID(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, ws)
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := bufio.NewReader(ws.NetConn())
			io.Copy(io.Discard, br)
		}()
	}
	defer func() {
		for _, ws := range clients {
			ws.Close()
		}
		wg.Wait()
	}()
	for r.Len() < n {
		time.Sleep(time.Millisecond)
	}
	for _, c := range r.Conns() {
		c.Subscribe(context.Background(), "room")
	}
	f, _ := router.NewFrame("TICK", map[string]int{"n": 1})
	b.ReportAllocs()
	for b.Loop() {
		r.PublishFrame(context.Background(), "room", f, router.PublishOptions{})
	}
}

// BenchmarkDispatch measures the server's per-message work for one
// request, from the raw bytes to the queued reply: envelope decode, route
// lookup, typed payload decode and validation, handler, reply encoding.
// The socket is not involved.
func BenchmarkDispatch(b *testing.B) {
	msg := []byte(`{"type":"UPDATE","meta":{"timestamp":1730450000123,"correlationId":"5f0c7d8e-3b1a-4c2d-9e8f-7a6b5c4d3e2f"},"payload":{"doc":"todo:list/42","patch":[{"op":"replace","path":"/items/3/done","value":true}],"baseRev":1041,"clientReqId":"01HZY0K2B7C8D9E0F1G2H3J4K5"}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		env, err := protocol.DecodeEnvelope(msg)
		if err != nil {
			b.Fatal(err)
		}
		var u protocol.Update
		if err := protocol.DecodePayload(env.Payload, &u); err != nil {
			b.Fatal(err)
		}
		if err := u.Validate(); err != nil {
			b.Fatal(err)
		}
		if _, err := router.NewFrameMeta("UPDATE.OK", protocol.Meta{Timestamp: 1, CorrelationID: env.Meta.CorrelationID}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// burstClient dials url and reads; wait(n) blocks until n messages in
// all have been read (without spinning, which would steal the CPU the
// server and client need).
type burstClient struct {
	ws     *websocket.Conn
	got    int64
	mu     sync.Mutex
	target int64
	reach  chan struct{}
	done   chan struct{}
}

func newBurstClient(b *testing.B, url string) *burstClient {
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	bc := &burstClient{ws: ws, done: make(chan struct{})}
	go func() {
		defer close(bc.done)
		for {
			_, rd, err := ws.NextReader()
			if err != nil {
				return
			}
			io.Copy(io.Discard, rd)
			bc.mu.Lock()
			bc.got++
			if bc.reach != nil && bc.got >= bc.target {
				close(bc.reach)
				bc.reach = nil
			}
			bc.mu.Unlock()
		}
	}()
	return bc
}

func (bc *burstClient) wait(n int64) {
	bc.mu.Lock()
	if bc.got >= n {
		bc.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	bc.target, bc.reach = n, ch
	bc.mu.Unlock()
	<-ch
}

func (bc *burstClient) stop() { bc.ws.Close(); <-bc.done }

// BenchmarkBurst100 sends bursts of 100 small messages to one connection
// and waits for the client to read them: the writer coalesces what piles
// up into few writes. Compare BenchmarkBurst100GorillaDirect, the same
// through gorilla's WriteMessage, one write per message.
//
//	go test ./router/ -run '^$' -bench Burst100 -benchtime 2s
func BenchmarkBurst100(b *testing.B) {
	r := router.New(router.Options{MessagesPerSecond: -1})
	defer r.Shutdown(context.Background())
	srv := httptest.NewServer(r)
	defer srv.Close()
	bc := newBurstClient(b, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer bc.stop()
	for r.Len() < 1 {
		time.Sleep(time.Millisecond)
	}
	c := r.Conns()[0]
	f, _ := router.NewFrame("TICK", map[string]string{"data": strings.Repeat("x", 100)})
	want := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		for range 100 {
			c.SendFrame(f)
		}
		want += 100
		bc.wait(want)
	}
}

func BenchmarkBurst100GorillaDirect(b *testing.B) {
	conns := make(chan *websocket.Conn, 1)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err == nil {
			conns <- ws
		}
	}))
	defer srv.Close()
	bc := newBurstClient(b, "ws"+strings.TrimPrefix(srv.URL, "http"))
	defer bc.stop()
	ws := <-conns
	defer ws.Close()
	f, _ := router.NewFrame("TICK", map[string]string{"data": strings.Repeat("x", 100)})
	want := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		for range 100 {
			ws.WriteMessage(websocket.TextMessage, f.Bytes())
		}
		want += 100
		bc.wait(want)
	}
}

// BenchmarkEchoRoundTrip makes ECHO round trips on one connection, one at
// a time: each request finds the reader idle, so one op includes waking
// it, reading and handling the message, and handing the wait for the next
// one to a new goroutine (see reader.go).
//
//	go test ./router/ -run '^$' -bench EchoRoundTrip -benchtime 2s
func BenchmarkEchoRoundTrip(b *testing.B) {
	r := router.New(router.Options{MessagesPerSecond: -1})
	defer r.Shutdown(context.Background())
	router.HandleRPC(r, "ECHO", "ECHOED", func(x *router.Ctx, p echo) (echo, error) { return p, nil })
	srv := httptest.NewServer(r)
	defer srv.Close()
	nc, err := rawDial(srv.Listener.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := rawEcho(nc, "rt"); err != nil {
			b.Fatal(err)
		}
	}
}
