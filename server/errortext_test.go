package server_test

import (
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// TestErrorTextsSayThingsOnce: a refused patch's message says what is
// wrong once, without Go package prefixes; a frame that is not JSON is
// called invalid JSON (not "want object, got null").
func TestErrorTextsSayThingsOnce(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	c := ev.dial("")
	c.join("d")
	c.update("d", []any{map[string]any{"op": "jump", "path": "/x"}}, c.nextReq())
	p := c.expectError(protocol.CodeInvalidArgument)
	if want := `invalid patch: op 0: op: unknown operation "jump"`; p.Message != want {
		t.Errorf("invalid patch: %q, want %q", p.Message, want)
	}
	c.update("d", []any{map[string]any{"op": "remove", "path": "/nope"}}, c.nextReq())
	p = c.expectError(protocol.CodeFailedPrecondition)
	if strings.Contains(p.Message, "delta:") || !strings.HasPrefix(p.Message, "patch does not apply: path not found") {
		t.Errorf("patch that does not apply: %q", p.Message)
	}
	c.sendRaw("not json")
	p = c.expectError(protocol.CodeInvalidArgument)
	if !strings.HasPrefix(p.Message, "invalid JSON") || strings.Contains(p.Message, "null") {
		t.Errorf("not json: %q", p.Message)
	}
}
