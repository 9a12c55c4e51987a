package server_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
)

// forwardNodes starts two cluster nodes, each with its own Forwarder, and
// returns them with their Forwarders once each knows the other.
func forwardNodes(t *testing.T) ([]*node, []*server.Forwarder) {
	t.Helper()
	ns := startNATS(t)
	fws := []*server.Forwarder{server.NewForwarder(), server.NewForwarder()}
	nodes := []*node{
		startNode(t, ns, server.Options{Forwarder: fws[0]}),
		startNode(t, ns, server.Options{Forwarder: fws[1]}),
	}
	for _, nd := range nodes {
		nd.awaitInstances(1)
	}
	return nodes, fws
}

// homedElsewhere returns a document id whose home, as fw sees it, is not fw's
// instance, and that home.
func homedElsewhere(t *testing.T, fw *server.Forwarder) (string, string) {
	t.Helper()
	for i := range 100 {
		doc := fmt.Sprintf("hot-%d", i)
		if home, self := fw.Home(doc); !self {
			return doc, home
		}
	}
	t.Fatal("every document's home is this instance")
	return "", ""
}

type forwardReply struct {
	out syncd.ForwardOutcome
	err error
}

func forwardAndWait(t *testing.T, fw *server.Forwarder, home string, fe syncd.ForwardedEdit) forwardReply {
	t.Helper()
	ch := make(chan forwardReply, 1)
	fw.Forward(home, fe, func(out syncd.ForwardOutcome, err error) { ch <- forwardReply{out, err} })
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no reply to a forwarded edit")
		return forwardReply{}
	}
}

// Both instances name the same home for every document; an edit
// forwarded to it is decided there and the operation comes back; a
// refusal comes back with its code and head; an edit forwarded to an
// instance nobody serves is "not forwarded".
func TestClusterForwardedEdit(t *testing.T) {
	nodes, fws := forwardNodes(t)
	for i := range 50 {
		doc := fmt.Sprintf("agree-%d", i)
		h0, self0 := fws[0].Home(doc)
		h1, self1 := fws[1].Home(doc)
		if h0 != h1 || self0 == self1 {
			t.Fatalf("%s: homes %s (self %v) and %s (self %v)", doc, h0, self0, h1, self1)
		}
	}
	doc, home := homedElsewhere(t, fws[0])
	r := forwardAndWait(t, fws[0], home, syncd.ForwardedEdit{Doc: doc, Edit: syncd.Edit{ClientID: "c", ReqID: "r1", Patch: json.RawMessage(`{"a":1}`)}})
	if r.err != nil || r.out.Err != nil || r.out.Op == nil || r.out.Op.Rev != 1 || r.out.Op.ClientReqID != "r1" {
		t.Fatalf("forwarded edit: %+v %v", r.out, r.err)
	}
	if st, err := nodes[1].engine.State(t.Context(), doc); err != nil || st.Rev != 1 {
		t.Fatalf("the home's copy: %+v, %v", st, err)
	}
	r = forwardAndWait(t, fws[0], home, syncd.ForwardedEdit{Doc: doc, Edit: syncd.Edit{ClientID: "c", ReqID: "r2", Patch: json.RawMessage(`[{"op":"test","path":"/a","value":2}]`)}})
	if r.err != nil || r.out.Err == nil || r.out.Err.Code != syncd.CodePrecondition || r.out.Err.Head != 1 {
		t.Fatalf("forwarded refusal: %+v %v", r.out, r.err)
	}
	r = forwardAndWait(t, fws[0], "nobody", syncd.ForwardedEdit{Doc: doc, Edit: syncd.Edit{ClientID: "c", ReqID: "r3", Patch: json.RawMessage(`{"a":3}`)}})
	if !errors.Is(r.err, syncd.ErrNotForwarded) {
		t.Fatalf("forwarded to nobody: %+v %v, want ErrNotForwarded", r.out, r.err)
	}
}

// A malformed forwarded edit is answered with an error, and decides
// nothing; the instance goes on serving.
func TestClusterMalformedForwardIsAnswered(t *testing.T) {
	nodes, fws := forwardNodes(t)
	_, home := homedElsewhere(t, fws[0])
	subject := "test.bus.fwd." + base64.RawURLEncoding.EncodeToString([]byte(home))
	for _, body := range []string{`not json`, `{"from":"x"}`, `{"from":"x","doc":"d","patch":5}`, `{}`} {
		msg, err := nodes[0].nc.Request(subject, []byte(body), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var r struct {
			Err *struct{ Code string } `json:"err"`
		}
		if err := json.Unmarshal(msg.Data, &r); err != nil || r.Err == nil || r.Err.Code != "invalid" {
			t.Fatalf("%s: answered %s", body, msg.Data)
		}
	}
	if _, err := nodes[1].engine.State(t.Context(), "d"); !errors.Is(err, syncd.ErrNotFound) && syncd.CodeOf(err) != syncd.CodeNotFound {
		t.Fatalf("a malformed edit created the document: %v", err)
	}
	doc, _ := homedElsewhere(t, fws[0])
	r := forwardAndWait(t, fws[0], home, syncd.ForwardedEdit{Doc: doc, Edit: syncd.Edit{ClientID: "c", ReqID: "r1", Patch: json.RawMessage(`{"a":1}`)}})
	if r.err != nil || r.out.Op == nil {
		t.Fatalf("after the malformed ones: %+v %v", r.out, r.err)
	}
}

// The bus carries a forwarded edit's After and the home's Contended: an
// edit whose earlier one is not decided at the home is refused, not
// applied; the home says the document is contended once its own clients
// write it too.
func TestClusterForwardOrderAndContention(t *testing.T) {
	nodes, fws := forwardNodes(t)
	doc, home := homedElsewhere(t, fws[0])
	r := forwardAndWait(t, fws[0], home, syncd.ForwardedEdit{Doc: doc, Edit: syncd.Edit{ClientID: "c", ReqID: "r2", Patch: json.RawMessage(`{"a":2}`)}, After: "r1"})
	if r.err != nil || r.out.Err == nil || r.out.Err.Code != syncd.CodeUnavailable {
		t.Fatalf("an edit after one the home never saw: %+v %v, want unavailable", r.out, r.err)
	}
	r = forwardAndWait(t, fws[0], home, syncd.ForwardedEdit{Doc: doc, Edit: syncd.Edit{ClientID: "c", ReqID: "r1", Patch: json.RawMessage(`{"a":1}`)}})
	if r.err != nil || r.out.Op == nil || r.out.Contended {
		t.Fatalf("r1, only the requester writing: %+v %v, want applied, not contended", r.out, r.err)
	}
	if _, err := nodes[1].engine.Commit(t.Context(), doc, syncd.Edit{Patch: json.RawMessage(`{"home":1}`)}); err != nil {
		t.Fatal(err)
	}
	r = forwardAndWait(t, fws[0], home, syncd.ForwardedEdit{Doc: doc, Edit: syncd.Edit{ClientID: "c", ReqID: "r2", Patch: json.RawMessage(`{"a":2}`)}, After: "r1"})
	if r.err != nil || r.out.Op == nil || !r.out.Contended {
		t.Fatalf("r2 after r1, the home writing too: %+v %v, want applied and contended", r.out, r.err)
	}
}
