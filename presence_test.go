package syncd_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
)

// TestPresenceRoomBound: a room holds at most MaxRoomPresenceBytes (each
// entry counts its state, its client id and PresenceEntryOverhead); a value
// past it is refused with ErrRoomFull and the room is unchanged; replacing
// a value counts only the difference, and leaving frees the entry's bytes.
func TestPresenceRoomBound(t *testing.T) {
	const limit = 1000
	e, _ := open(t, syncd.Options{MaxRoomPresenceBytes: limit})
	ctx := ctxT(t)
	const doc = "room/bound"
	value := func(n int) json.RawMessage { return json.RawMessage(`"` + strings.Repeat("x", n-2) + `"`) }
	entry := func(id string, n int) int { return len(id) + n + syncd.PresenceEntryOverhead }

	// Four clients of 200-byte values: 4 × (4 + 200 + 32) = 944 bytes.
	for i := range 4 {
		if err := e.SetPresence(ctx, doc, fmt.Sprintf("c-%d", i), value(200)); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	used := 4 * entry("c-0", 200)
	err := e.SetPresence(ctx, doc, "c-4", value(limit-used))
	var ee *syncd.Error
	if !errors.Is(err, syncd.ErrRoomFull) || !errors.As(err, &ee) || ee.Code != syncd.CodeTooLarge {
		t.Fatalf("a value past the room's bound: %v, want ErrRoomFull (CodeTooLarge)", err)
	}
	if n := len(e.Presence(doc)); n != 4 {
		t.Fatalf("the room has %d clients after a refusal, want 4", n)
	}
	// Growing a value within what is left succeeds; past it, not.
	if err := e.SetPresence(ctx, doc, "c-0", value(200+limit-used)); err != nil {
		t.Fatalf("growing a value to the bound: %v", err)
	}
	if err := e.SetPresence(ctx, doc, "c-1", value(201)); !errors.Is(err, syncd.ErrRoomFull) {
		t.Fatalf("growing a value past the bound: %v", err)
	}
	// Leaving frees the entry.
	e.ClearPresence(doc, "c-0")
	if err := e.SetPresence(ctx, doc, "c-4", value(200)); err != nil {
		t.Fatalf("after a client left: %v", err)
	}
}
