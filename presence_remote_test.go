package syncd_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
)

// room returns doc's room as client id → state.
func room(e *syncd.Engine, doc string) map[string]string {
	m := map[string]string{}
	for _, p := range e.Presence(doc) {
		m[p.ClientID] = string(p.State)
	}
	return m
}

// TestRemotePresence: other instances' entries join the room, with the
// origin rules of presence_remote.go.
func TestRemotePresence(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	ctx := ctxT(t)
	const doc = "remote/room"
	rec := newRecorder()
	sub, err := e.Subscribe(ctx, doc, syncd.SubscribeRequest{}, rec.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	if err := e.SetRemotePresence(ctx, doc, "B", "bob", json.RawMessage(`{ "n": 1 }`)); err != nil {
		t.Fatal(err)
	}
	if err := e.SetPresence(ctx, doc, "ann", json.RawMessage(`"a"`)); err != nil {
		t.Fatal(err)
	}
	if got := room(e, doc); len(got) != 2 || got["bob"] != `{"n":1}` || got["ann"] != `"a"` {
		t.Fatalf("room %v", got)
	}
	rec.waitFor(t, "bob's entry", func(evs []*syncd.Event) bool {
		for _, ev := range evs {
			if ev.Kind == syncd.EventPresence && len(ev.Presence) == 1 && ev.Presence[0].ClientID == "bob" {
				return true
			}
		}
		return false
	})

	// A local entry wins: a remote value of a client connected here is
	// not shown, and its departure elsewhere does not remove it.
	if err := e.SetRemotePresence(ctx, doc, "B", "ann", json.RawMessage(`"elsewhere"`)); err != nil {
		t.Fatal(err)
	}
	e.ClearRemotePresence(doc, "B", "ann")
	if got := room(e, doc); got["ann"] != `"a"` {
		t.Fatalf("ann's local entry: %v", got)
	}
	// A local value takes a remote entry over; then only a local departure
	// removes it.
	if err := e.SetPresence(ctx, doc, "bob", json.RawMessage(`"here now"`)); err != nil {
		t.Fatal(err)
	}
	e.ClearRemotePresence(doc, "B", "bob")
	if got := room(e, doc); got["bob"] != `"here now"` {
		t.Fatalf("bob taken over: %v", got)
	}
	e.ClearPresence(doc, "bob")
	// A local departure leaves a remote entry alone.
	if err := e.SetRemotePresence(ctx, doc, "C", "cid", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	e.ClearPresence(doc, "cid")
	// Between remote entries the newest wins, and only its origin removes it.
	if err := e.SetRemotePresence(ctx, doc, "B", "cid", json.RawMessage(`2`)); err != nil {
		t.Fatal(err)
	}
	e.ClearRemotePresence(doc, "C", "cid")
	if got := room(e, doc); got["cid"] != `2` || len(got) != 2 {
		t.Fatalf("cid moved from C to B: %v", got)
	}
	// An origin's departure takes all its entries.
	if err := e.SetRemotePresence(ctx, doc, "B", "dan", json.RawMessage(`3`)); err != nil {
		t.Fatal(err)
	}
	e.ClearRemotePresence(doc, "B", "")
	if got := room(e, doc); len(got) != 1 || got["ann"] != `"a"` {
		t.Fatalf("after B left: %v", got)
	}

	// A remote entry does not create a document.
	if err := e.SetRemotePresence(ctx, "remote/none", "B", "x", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Head("remote/none"); ok {
		t.Fatal("a remote entry created a document")
	}
	// Bad input.
	for _, bad := range []struct{ origin, client, state string }{{"", "x", "1"}, {"B", "", "1"}, {"B", "x", ""}} {
		if err := e.SetRemotePresence(ctx, doc, bad.origin, bad.client, json.RawMessage(bad.state)); syncd.CodeOf(err) != syncd.CodeInvalid {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// TestRemotePresenceRoomBound: the bound holds for the merged room, both
// ways.
func TestRemotePresenceRoomBound(t *testing.T) {
	const limit = 500
	e, _ := open(t, syncd.Options{MaxRoomPresenceBytes: limit})
	ctx := ctxT(t)
	const doc = "remote/bound"
	mustCommit(t, e, doc, merge(`{"a":1}`))
	value := json.RawMessage(`"` + strings.Repeat("x", 200) + `"`)
	if err := e.SetRemotePresence(ctx, doc, "B", "r1", value); err != nil {
		t.Fatal(err)
	}
	if err := e.SetPresence(ctx, doc, "l1", value); err != nil {
		t.Fatal(err)
	}
	if err := e.SetPresence(ctx, doc, "l2", value); !errors.Is(err, syncd.ErrRoomFull) {
		t.Fatalf("a local value past the merged room: %v", err)
	}
	if err := e.SetRemotePresence(ctx, doc, "B", "r2", value); !errors.Is(err, syncd.ErrRoomFull) {
		t.Fatalf("a remote value past the merged room: %v", err)
	}
	e.ClearRemotePresence(doc, "B", "")
	if err := e.SetPresence(ctx, doc, "l2", value); err != nil {
		t.Fatalf("after the remote entries left: %v", err)
	}
}
