package client_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/server"
)

// TestOwnEchoIsAnAck: the echo of this client's own edit is a ChangeAck
// carrying the request id and the revision, marked Local, so a program can
// tell it from another client's edit (ChangeRemote, not Local).
func TestOwnEchoIsAnAck(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	c := dial(t, ev.url, nil)
	d := join(t, c, "doc")
	changes := make(chan client.Change, 10)
	d.OnChange(func(ch client.Change) { changes <- ch })
	id, err := d.Merge(`{"mine":1}`)
	if err != nil {
		t.Fatal(err)
	}
	next := func() client.Change {
		t.Helper()
		select {
		case ch := <-changes:
			return ch
		case <-time.After(waitTimeout):
			t.Fatal("no change")
			return client.Change{}
		}
	}
	if ch := next(); ch.Kind != client.ChangeLocal || ch.ReqID != id {
		t.Fatalf("first change %+v, want local %s", ch, id)
	}
	if ch := next(); ch.Kind != client.ChangeAck || !ch.Local || ch.ReqID != id || ch.Rev != 1 || len(ch.Patches) != 1 || string(ch.Patches[0]) != `{"mine":1}` {
		t.Fatalf("echo %+v, want an ack of %s at revision 1", ch, id)
	}
	ev.commit("doc", map[string]any{"theirs": 1})
	if ch := next(); ch.Kind != client.ChangeRemote || ch.Local || ch.ReqID != "" || ch.Rev != 2 {
		t.Fatalf("another's edit %+v, want remote at revision 2", ch)
	}
	if ch := client.ChangeAck.String(); ch != "ack" {
		t.Fatalf("ChangeAck names itself %q", ch)
	}
}

// TestMergeRefusesNonObjects: a merge patch must be an object (a non-object
// would replace the document's root, which must stay an object): Merge
// refuses one at once, queues nothing and leaves the view alone, as its
// doc comment promises for malformed patches.
func TestMergeRefusesNonObjects(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	c := dial(t, ev.url, nil)
	d := join(t, c, "doc")
	for _, p := range []any{`"x"`, `42`, `[1,2]`, `null`, json.RawMessage(`true`), "x", 42, []int{1, 2}} {
		if id, err := d.Merge(p); err == nil {
			t.Errorf("Merge(%#v) accepted as %s", p, id)
		}
	}
	for _, p := range []string{`{"a":1}`, `"x"`, `42`} {
		if id, err := d.Patch(p); err == nil {
			t.Errorf("Patch(%s) accepted as %s", p, id)
		}
	}
	if n := d.Pending(); n != 0 {
		t.Fatalf("%d edits queued", n)
	}
	var v map[string]any
	if err := d.Get(&v); err != nil || len(v) != 0 {
		t.Fatalf("view %v, %v", v, err)
	}
}
