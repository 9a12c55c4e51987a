package syncd_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/deltasync/syncd"
)

// notices is an Observer that writes down what it is told.
type notices struct {
	mu  sync.Mutex
	log []string
}

func (n *notices) Committed(c syncd.CommitNotice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch c.Kind {
	case syncd.NoticeCreated:
		n.log = append(n.log, "created "+c.Doc)
	case syncd.NoticeDeleted:
		n.log = append(n.log, "deleted "+c.Doc)
	case syncd.NoticeOp:
		n.log = append(n.log, fmt.Sprintf("op %s %d", c.Doc, c.Head))
	}
}

func (n *notices) PresenceChanged(doc, clientID, user string, joined bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.log = append(n.log, fmt.Sprintf("presence %s %s %s %v", doc, clientID, user, joined))
}

func (n *notices) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.log, "; ")
}

// TestObserver: the observer hears of creations, operations, deletions
// (with the re-creation of a document in use) and of first joins and
// leaves with the user the join named, in order, before the caller's Commit returns; a change of a
// present client's state is not a join.
func TestObserver(t *testing.T) {
	obs := &notices{}
	e, _ := open(t, syncd.Options{Observer: obs})
	ctx := ctxT(t)
	mustCommit(t, e, "a", merge(`{"x":1}`))
	mustCommit(t, e, "a", merge(`{"x":2}`))
	if err := e.SetPresence(syncd.ContextWithPresenceUser(ctx, "ann"), "a", "c1", json.RawMessage(`{"at":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := e.SetPresence(ctx, "a", "c1", json.RawMessage(`{"at":2}`)); err != nil {
		t.Fatal(err)
	}
	// In use (c1 is present): deleted, then created under a new epoch.
	if err := e.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, e, "a", merge(`{"x":3}`))
	e.ClearPresence("a", "c1")
	e.ClearPresence("a", "c1") // not present: nothing
	if err := e.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	want := "created a; op a 1; op a 2; presence a c1 ann true; deleted a; created a; op a 1; presence a c1 ann false; deleted a"
	if got := obs.String(); got != want {
		t.Fatalf("observed\n%s\nwant\n%s", got, want)
	}
}
