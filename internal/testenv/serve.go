package testenv

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Timeout bounds every wait for a message, and CallTimeout every call of
// the engine or the SDK (a commit, a dial, a join) the environment makes
// for a test: longer, since they may wait for the store on a loaded
// machine. Nothing should take more than a fraction of either; they exist
// so that a bug fails a test instead of hanging the suite.
const (
	Timeout     = 5 * time.Second
	CallTimeout = 30 * time.Second
)

// HTTP is a handler served on 127.0.0.1 for one test.
type HTTP struct {
	Srv  *httptest.Server
	Base string // http://127.0.0.1:port
	URL  string // ws://127.0.0.1:port/ws
	Addr string // 127.0.0.1:port
}

// Serve serves h on 127.0.0.1 until the test ends (or Close).
func Serve(t testing.TB, h http.Handler) *HTTP {
	t.Helper()
	hs := httptest.NewServer(h) // listens on 127.0.0.1
	s := &HTTP{Srv: hs, Base: hs.URL, URL: WSURL(hs.URL), Addr: hs.Listener.Addr().String()}
	t.Cleanup(s.Close)
	return s
}

// Close cuts the connections that are left and stops listening; it may be
// called more than once.
func (s *HTTP) Close() {
	s.Srv.CloseClientConnections()
	s.Srv.Close()
}

// WSURL is the WebSocket endpoint (/ws) of a server at base (http://...).
func WSURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") + "/ws" }

// WaitFor polls cond every 5 ms until it holds or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
