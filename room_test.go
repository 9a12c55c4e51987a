package syncd_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/deltasync/syncd"
)

// TestPublishRoom: a room message reaches every subscriber of the document
// that finished its catch-up, except the sender's own subscriptions, in
// the same stream as operations and presence and in the same order for
// every subscriber; a closed subscription and a document that is not
// loaded get nothing, and publishing does not load or create a document.
func TestPublishRoom(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	ctx := ctxT(t)
	const doc = "room/messages"
	subscribe := func(client string) (*recorder, *syncd.Subscription) {
		r := newRecorder()
		sub, err := e.Subscribe(ctx, doc, syncd.SubscribeRequest{ClientID: client}, r.sink)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Close)
		return r, sub
	}
	sender, _ := subscribe("sender")
	other, _ := subscribe("other")
	anonymous, _ := subscribe("") // no client id: excluded from nothing
	gone, goneSub := subscribe("gone")
	goneSub.Close()

	mustCommit(t, e, doc, merge(`{"a":1}`))
	e.PublishRoom(doc, "sender", "m1")
	if err := e.SetPresence(ctx, doc, "other", json.RawMessage(`{"here":true}`)); err != nil {
		t.Fatal(err)
	}
	e.PublishRoom(doc, "other", "m2")
	mustCommit(t, e, doc, merge(`{"a":2}`))

	// What each subscriber received after its catch-up and full room, as
	// kind:detail, in order.
	trace := func(r *recorder) []string {
		var out []string
		for _, ev := range r.snapshot() {
			switch {
			case ev.Kind == syncd.EventDeltas && ev.Live:
				out = append(out, "ops:"+ev.ToRev.String())
			case ev.Kind == syncd.EventPresence && !ev.Full:
				out = append(out, "presence")
			case ev.Kind == syncd.EventMessage:
				m, _ := ev.Message.(string)
				out = append(out, "msg:"+m+":"+ev.From)
			}
		}
		return out
	}
	want := map[*recorder][]string{
		sender:    {"ops:1", "presence", "msg:m2:other", "ops:2"},
		other:     {"ops:1", "msg:m1:sender", "presence", "ops:2"},
		anonymous: {"ops:1", "msg:m1:sender", "presence", "msg:m2:other", "ops:2"},
		gone:      nil,
	}
	for r, w := range want {
		if got := trace(r); !slices.Equal(got, w) {
			t.Errorf("received %q, want %q", got, w)
		}
	}

	// A document nobody has loaded: nothing happens, and it is not made.
	e.PublishRoom("room/nobody", "sender", "m3")
	for _, info := range e.LoadedDocs() {
		if info.ID == "room/nobody" {
			t.Fatal("PublishRoom loaded a document")
		}
	}
}
