package server_test

import (
	"encoding/json"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

func TestHelloThenJoinUpdateDelta(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	a := ev.dial("")
	if a.hello.Protocol != "syncd/1" || a.hello.ClientID == "" || a.hello.Limits[protocol.LimitMaxMessageBytes] == 0 {
		t.Fatalf("hello %+v", a.hello)
	}
	b := ev.dial("")
	snap := a.join("todo")
	if snap.Rev != 0 || string(snap.State) != "{}" || snap.Epoch == "" {
		t.Fatalf("snapshot %+v", snap)
	}
	b.join("todo")
	a.send(protocol.TypeUpdate, map[string]any{"doc": "todo", "patch": map[string]any{"title": "milk"}, "clientReqId": "r1"})
	for _, c := range []*client{a, b} {
		d := decodeAs[protocol.SyncDeltas](t, c.expect(protocol.TypeSyncDeltas))
		if d.FromRev != 0 || d.ToRev != 1 || len(d.Operations) != 1 || d.Operations[0].ClientReqID != "r1" || d.Operations[0].ClientID != a.hello.AuthorID {
			t.Fatalf("deltas %+v", d)
		}
	}
}

func TestJoinRefusalNamesTheDocument(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{Limits: server.Limits{MaxDocsPerConn: 1}})
	c := ev.dial("")
	c.join("first")
	c.send(protocol.TypeJoin, map[string]any{"doc": "second"})
	p := c.expectError(protocol.CodeResourceExhausted)
	var d struct {
		Doc   string `json:"doc"`
		Limit string `json:"limit"`
	}
	if err := json.Unmarshal(p.Details, &d); err != nil || d.Doc != "second" || d.Limit != protocol.LimitMaxDocsPerConnection {
		t.Fatalf("details %s: %v", p.Details, err)
	}
}
