package syncd_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/memstore"
)

// A failed write drops its document from memory; its room is kept for the
// copy loaded next (keptroom.go). The Observer, told each present client
// joined, hears each leave once: here the client leaves while the
// document is not loaded, from the kept room. (A webhook Notifier counts a
// user's clients per room: a join without its leave would report the user
// present for good.)
func TestBrokenDocumentsRoomLeavesTheObserver(t *testing.T) {
	obs := &notices{}
	st := &flakyStore{Store: memstore.New(memstore.Options{})}
	e, err := syncd.Open(st, syncd.Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer e.Close()
	mustCommit(t, e, "d", merge(`{"a":1}`))
	if err := e.SetPresence(ctxT(t), "d", "c1", json.RawMessage(`{"at":1}`)); err != nil {
		t.Fatal(err)
	}

	st.failing.Store(true)
	_, err = e.Commit(ctxT(t), "d", merge(`{"a":2}`))
	wantCode(t, err, syncd.CodeUnavailable)
	st.failing.Store(false)

	e.ClearPresence("d", "c1") // the client leaves
	room := e.Presence("d")
	joined := strings.Count(obs.String(), "presence d c1  true")
	left := strings.Count(obs.String(), "presence d c1  false")
	if joined != left {
		t.Fatalf("room after the failed write and the leave: %v; the observer heard %d joins and %d leaves: %s", room, joined, left, obs)
	}
}

// PROTOCOL.md §6.9: a client's presence is removed only by LEAVE or the
// end of its connection. A failed write drops the document from memory;
// the room survives into the reloaded copy, so the present client (whose
// connection only rejoins, session.resync) is still in the room it never
// left.
func TestFailedWriteKeepsTheRoom(t *testing.T) {
	st := &flakyStore{Store: memstore.New(memstore.Options{})}
	e, err := syncd.Open(st, syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer e.Close()
	mustCommit(t, e, "d", merge(`{"a":1}`))
	if err := e.SetPresence(ctxT(t), "d", "c1", json.RawMessage(`{"at":1}`)); err != nil {
		t.Fatal(err)
	}
	st.failing.Store(true)
	_, err = e.Commit(ctxT(t), "d", merge(`{"a":2}`))
	wantCode(t, err, syncd.CodeUnavailable)
	st.failing.Store(false)

	mustCommit(t, e, "d", merge(`{"a":3}`)) // reloaded
	if room := e.Presence("d"); len(room) != 1 || room[0].ClientID != "c1" {
		t.Fatalf("room after a failed write: %v, want c1 still present", room)
	}
}
