package router_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// TestFloodErrorNamesDroppedType: the flood guard's ERROR names the type of
// the message it dropped when the message starts with its type (as every
// syncd client writes it), in the message and in details.type; otherwise it
// names none.
func TestFloodErrorNamesDroppedType(t *testing.T) {
	ts := newServer(t, router.Options{MessagesPerSecond: 0.5, Burst: 1, FloodCloseAfter: 10}, nil)
	c := ts.dial()
	c.sendRaw(`{"type":"NOTE","payload":{"text":"passes"}}`)
	c.sendRaw(`{"type":"NOTE","payload":{"text":"dropped"}}`)
	p := c.expectError("", protocol.CodeResourceExhausted)
	var det struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(p.Details, &det); err != nil || det.Type != "NOTE" || !strings.Contains(p.Message, "NOTE message dropped") {
		t.Fatalf("flood ERROR %+v (details %s): want it to name NOTE", p, p.Details)
	}
	c.sendRaw(`{"meta":{},"type":"NOTE","payload":{"text":"dropped"}}`)
	p = c.expectError("", protocol.CodeResourceExhausted)
	if strings.Contains(string(p.Details), `"type"`) || !strings.Contains(p.Message, "message dropped") {
		t.Fatalf("flood ERROR %+v (details %s): want no type named", p, p.Details)
	}
}
