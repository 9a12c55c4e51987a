package server_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// TestHeartbeatDefaults: by default a dead client is closed, and leaves the
// presence list, within 35 s (a 10 s interval, a 25 s timeout), and HELLO
// says so.
func TestHeartbeatDefaults(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	c := ev.dial("")
	if c.hello.HeartbeatMs != 10_000 || c.hello.Limits["heartbeatTimeoutMs"] != 25_000 {
		t.Fatalf("HELLO heartbeatMs %d, heartbeatTimeoutMs %d; want 10000 and 25000", c.hello.HeartbeatMs, c.hello.Limits["heartbeatTimeoutMs"])
	}
	if server.DefaultHeartbeatInterval+server.DefaultHeartbeatTimeout > 35*time.Second {
		t.Fatal("a dead client may stay longer than 35 s")
	}
}

// TestHeartbeatTimeoutNotBeyondInterval: a timeout no longer than the
// interval would close every idle client; New refuses it and says why.
func TestHeartbeatTimeoutNotBeyondInterval(t *testing.T) {
	e, err := syncd.Open(memstore.New(memstore.Options{}), syncd.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, err = server.New(e, server.Options{HeartbeatInterval: 5 * time.Second, HeartbeatTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "HeartbeatTimeout 1s must be longer than HeartbeatInterval 5s") {
		t.Fatalf("New: %v", err)
	}
}
