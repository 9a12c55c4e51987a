package router_test

import (
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd/router"
)

// TestIdleReaderWaitsOnShallowStack: after traffic (messages read through
// gorilla, handlers run), every idle connection's reader waits for input in
// awaitReadable on a goroutine of its own, not in gorilla's read path. That
// is what keeps an idle connection's stack at 2 KiB (see reader.go and
// BenchmarkIdleConnMemory).
func TestIdleReaderWaitsOnShallowStack(t *testing.T) {
	if !shallowWait {
		t.Skip("no socket peek on " + runtime.GOOS + ": readers wait in gorilla")
	}
	ts := newServer(t, router.Options{}, nil)
	const n = 10
	for i := range n {
		c := ts.dial()
		for j := range 3 {
			c.echo(fmt.Sprint(i, "-", j))
		}
	}
	waitReaders(t, n, "router.awaitReadable", "websocket.(*Conn).NextReader")
}

// TestIdleReaderOverTLS: over TLS the socket cannot tell whether input is
// waiting (TLS may hold decrypted bytes the socket no longer shows), so the
// reader waits in gorilla; messages, back to back or not, are all answered.
func TestIdleReaderOverTLS(t *testing.T) {
	r := router.New(router.Options{})
	router.HandleRPC(r, "ECHO", "ECHOED", func(x *router.Ctx, p echo) (echo, error) { return p, nil })
	srv := httptest.NewTLSServer(r)
	t.Cleanup(srv.Close)
	shutdownAtEnd(t, r)
	c, err := dialStrict(t, "wss"+strings.TrimPrefix(srv.URL, "https"), dialOpts{tls: srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.ws.UnderlyingConn().(*tls.Conn); !ok {
		t.Fatal("not a TLS connection")
	}
	c.echo("one")
	sendFrames(t, c, 5)
	waitReaders(t, 1, "websocket.(*Conn).NextReader", "router.awaitReadable")
	sendFrames(t, c, 5)
}

// TestSmallReadBuffer: a ReadBufferSize too small for gorilla to read
// through the router's reader (256 bytes or less) still works, with the
// reader waiting in gorilla.
func TestSmallReadBuffer(t *testing.T) {
	ts := newServer(t, router.Options{ReadBufferSize: 200}, nil)
	c := ts.dial()
	c.echo("small")
	writeRaw(t, c, echoFrame(strings.Repeat("b", 1000), "big-1"))
	expectEcho(t, c, "big-1")
	sendFrames(t, c, 5)
	waitReaders(t, 1, "websocket.(*Conn).NextReader", "router.awaitReadable")
}

// TestReaderInputShapes sends what could trip a reader that waits on the
// socket itself: messages written back to back in one write (all but the
// first are in gorilla's buffer, not in the socket), a frame split over two
// writes with a pause between (the reader wakes with half a frame),
// messages larger than the read buffer, and a message arriving while the
// reader hands over to a new goroutine. Each must be answered, in order.
func TestReaderInputShapes(t *testing.T) {
	ts := newServer(t, router.Options{MessagesPerSecond: -1}, nil)
	c := ts.dial()
	c.echo("warm")

	sendFrames(t, c, 20) // back to back

	f := echoFrame("split", "split-1")
	for _, part := range [][]byte{f[:3], f[3:9], f[9:]} {
		writeRaw(t, c, part)
		time.Sleep(20 * time.Millisecond)
	}
	expectEcho(t, c, "split-1")

	big := strings.Repeat("b", 5000)
	writeRaw(t, c, append(echoFrame(big, "big-1"), echoFrame("small", "small-1")...))
	expectEcho(t, c, "big-1")
	expectEcho(t, c, "small-1")

	for i := range 200 { // races with the handover after each answer
		cid := fmt.Sprint("rt-", i)
		writeRaw(t, c, echoFrame("x", cid))
		expectEcho(t, c, cid)
	}
}

// TestConnDone: Done is closed once OnClose has returned, whether it was
// first called before or after.
func TestConnDone(t *testing.T) {
	closed := make(chan *router.Conn, 2)
	ts := newServer(t, router.Options{OnClose: func(c *router.Conn, code int, reason string) {
		closed <- c
	}}, nil)
	early := ts.dial()
	early.echo("a")
	late := ts.dial()
	late.echo("b")
	conns := ts.r.Conns()
	if len(conns) != 2 {
		t.Fatalf("%d connections", len(conns))
	}
	dones := map[*router.Conn]<-chan struct{}{}
	for _, c := range conns {
		dones[c] = c.Done()
	}
	early.ws.Close()
	late.ws.Close()
	for range 2 {
		c := <-closed
		select {
		case <-dones[c]:
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed after OnClose")
		}
		select {
		case <-c.Done():
		default:
			t.Fatal("Done after the end is not closed")
		}
	}
}

// shallowWait: the platforms where an idle reader waits in awaitReadable
// (see await_unix.go).
var shallowWait = map[string]bool{"linux": true, "darwin": true, "freebsd": true, "netbsd": true, "openbsd": true, "dragonfly": true}[runtime.GOOS]

// idleWaitFrames returns the function an idle connection's reader waits
// in, and the one it must not.
func idleWaitFrames() (want, unwanted string) {
	if shallowWait {
		return "router.awaitReadable", "websocket.(*Conn).NextReader"
	}
	return "websocket.(*Conn).NextReader", "router.awaitReadable"
}

// waitReaders waits until n connections' reader goroutines are parked
// with want on their stacks, and none with unwanted.
func waitReaders(t *testing.T, n int, want, unwanted string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		got, bad := 0, 0
		for _, g := range strings.Split(string(buf), "\n\n") {
			if !strings.Contains(g, "router.(*Conn).") {
				continue
			}
			if strings.Contains(g, want) {
				got++
			}
			if strings.Contains(g, unwanted) {
				bad++
			}
		}
		if got == n && bad == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d readers waiting in %s and %d in %s, want %d and 0:\n%s", got, want, bad, unwanted, n, buf)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sendFrames writes n ECHO messages in one write and checks the answers.
func sendFrames(t *testing.T, c *client, n int) {
	t.Helper()
	var b []byte
	for i := range n {
		b = append(b, echoFrame("x", fmt.Sprint("batch-", i))...)
	}
	writeRaw(t, c, b)
	for i := range n {
		expectEcho(t, c, fmt.Sprint("batch-", i))
	}
}

func writeRaw(t *testing.T, c *client, b []byte) {
	t.Helper()
	if _, err := c.ws.UnderlyingConn().Write(b); err != nil {
		t.Fatal(err)
	}
}

func expectEcho(t *testing.T, c *client, cid string) {
	t.Helper()
	if m := c.expect("ECHOED"); m.CorrelationID() != cid {
		t.Fatalf("got %s, want correlationId %s", m.Raw, cid)
	}
}

// echoFrame encodes an ECHO request as a client's text frame, masked as
// RFC 6455 requires of clients.
func echoFrame(text, cid string) []byte {
	msg, _ := json.Marshal(map[string]any{
		"type":    "ECHO",
		"meta":    map[string]any{"timestamp": time.Now().UnixMilli(), "correlationId": cid},
		"payload": map[string]any{"text": text},
	})
	b := []byte{0x81}
	switch n := len(msg); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	key := [4]byte{0x1f, 0x2e, 0x3d, 0x4c}
	b = append(b, key[:]...)
	for i, x := range msg {
		b = append(b, x^key[i%4])
	}
	return b
}
