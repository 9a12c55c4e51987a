package main

import (
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd/router"
)

// TestCloseBoundedWithStuckHandler: a WebSocket handler that never returns
// (like a pattern match that runs for minutes) must not keep Close from
// returning within its bound. Close gives up on it after -shutdown-timeout
// plus the store's 5 s and says so; once the handler returns, the rest of
// the shutdown completes.
//
// About 5 s: the fixed part of the bound (storeCloseTimeout) is 5 s.
func TestCloseBoundedWithStuckHandler(t *testing.T) {
	const shutdownTimeout = 200 * time.Millisecond
	m := boot(t, t.TempDir(), "-shutdown-timeout", shutdownTimeout.String())
	entered, release := make(chan struct{}), make(chan struct{})
	// Before the first WebSocket request freezes the router's routes.
	m.server.Router().HandleFunc("test.stuck", func(*router.Ctx) error {
		close(entered)
		<-release
		return nil
	})
	c := dialWS(t, wsURL(m), "", nil)
	c.send("test.stuck", map[string]any{})
	select {
	case <-entered:
	case <-time.After(timeout):
		t.Fatal("the handler never ran")
	}

	start := time.Now()
	err := m.Close()
	took := time.Since(start)
	bound := m.Config.shutdownBound()
	close(release)
	<-m.stopped // the rest of the shutdown, now unblocked, finishes
	if took > bound+time.Second {
		t.Fatalf("Close took %v, bound %v", took, bound)
	}
	if err == nil || !strings.Contains(err.Error(), "did not finish") {
		// The router may stop waiting for a stuck handler by itself; then
		// Close is bounded by -shutdown-timeout alone.
		if took > shutdownTimeout+time.Second {
			t.Fatalf("Close returned %v after %v", err, took)
		}
	}
	t.Logf("Close returned after %v: %v", took.Round(time.Millisecond), err)
}
