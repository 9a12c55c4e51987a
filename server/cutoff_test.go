package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// TestCutOff: CutOff closes every WebSocket with 1013, refuses new ones
// with 503 and makes /readyz answer 503 with the reason, while /healthz
// and the HTTP API serve; Restore accepts WebSockets again.
func TestCutOff(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: apiKey})
	open := ev.dial("")
	open.join("cutoff/doc")
	ev.server.CutOff("no answer from NATS")
	if code := open.closeCode(); code != protocol.CloseTryAgainLater {
		t.Fatalf("open connection closed with %d, want %d", code, protocol.CloseTryAgainLater)
	}
	if _, resp, err := ev.tryDial(dialOpts{}); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a WebSocket while cut off: %v %v, want 503 with Retry-After", resp, err)
	}
	if code, body, _ := ev.do("GET", "/readyz", "", nil); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "no answer from NATS") {
		t.Fatalf("/readyz while cut off: %d %q", code, body)
	}
	if code, _, _ := ev.do("GET", "/healthz", "", nil); code != http.StatusOK {
		t.Fatalf("/healthz while cut off: %d, want 200", code)
	}
	if reason, cut := ev.server.CutOffReason(); !cut || reason != "no answer from NATS" {
		t.Fatalf("CutOffReason %q %v", reason, cut)
	}
	ev.server.Restore()
	late := ev.dial("")
	late.join("cutoff/doc")
	late.edit("cutoff/doc", map[string]any{"after": true})
	if code, _, _ := ev.do("GET", "/readyz", "", nil); code != http.StatusOK {
		t.Fatalf("/readyz after Restore: %d", code)
	}
}
