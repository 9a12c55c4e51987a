package server_test

import (
	"net/http"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
)

// TestDrain: after Drain, /readyz answers 503 while /healthz, the API and
// WebSockets (open ones and new ones) serve as before.
func TestDrain(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: apiKey})
	open := ev.dial("")
	open.join("drain/doc")
	ev.server.Drain()
	if code, _, _ := ev.do("GET", "/readyz", "", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while draining: %d, want 503", code)
	}
	if code, _, _ := ev.do("GET", "/healthz", "", nil); code != http.StatusOK {
		t.Fatalf("/healthz while draining: %d, want 200", code)
	}
	open.edit("drain/doc", map[string]any{"open": true})
	late := ev.dial("")
	late.join("drain/doc")
	late.edit("drain/doc", map[string]any{"late": true})
	ev.api("GET", "/v1/docs/drain%2Fdoc", nil, http.StatusOK)
}
