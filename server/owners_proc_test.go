package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd/internal/syncdproc"
	"github.com/deltasync/syncd/protocol"
)

// Who may present a client id, tested against a real syncd process that
// is restarted on its data directory (PROTOCOL.md §2.2). Each test states
// its RSS bound and checks that an unrelated client is still served and
// that nothing acknowledged was lost.

// ownersSecret is at least 32 bytes, as a JWT secret should be.
const ownersSecret = "owners-regression-secret-0123456789abcdef"

// ownersRSS bounds the child's resident memory in these tests: a handful
// of connections and documents.
const ownersRSS = 200 << 20

// restartSyncd stops p and starts syncd again on the same data directory
// with the same flags.
func restartSyncd(t *testing.T, p *syncdproc.Proc, args ...string) *syncdproc.Proc {
	t.Helper()
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("stop: %v\n%s", err, p.Log())
	}
	return syncdproc.Start(t, syncdproc.Options{DataDir: p.DataDir, Args: args})
}

// TestProcClientIDBelongsToItsUserAfterRestart: with authentication on, a
// client id belongs to its user durably. After a restart another user who
// presents it first is refused before the upgrade (so he can read no
// ackedReqId and commit nothing under it, not even a request id of 64 ×
// "~" that would make every later edit of the owner "already decided"),
// and refused again while the owner is connected, whose connection stays.
func TestProcClientIDBelongsToItsUserAfterRestart(t *testing.T) {
	args := []string{"-jwt-secret", ownersSecret}
	p := startSyncd(t, args...)
	tokAnn := token(t, ownersSecret, "ann", nil, time.Hour)
	tokBob := token(t, ownersSecret, "bob", nil, time.Hour)
	idA := newClientID()
	const doc = "owners/board"

	a := dialProc(t, p, dialOpts{clientID: idA, token: tokAnn})
	a.join(doc)
	var last protocol.Operation
	for i := range 3 {
		last = a.edit(doc, map[string]any{"n": i})
	}
	a.ws.Close()

	p = restartSyncd(t, p, args...)
	poison := url.Values{"attempt": {strings.Repeat("~", 64)}}
	requireRefused(t, p, dialOpts{clientID: idA, token: tokBob}, http.StatusForbidden)
	requireRefused(t, p, dialOpts{clientID: idA, token: tokBob, query: poison}, http.StatusForbidden)

	a2 := dialProc(t, p, dialOpts{clientID: idA, token: tokAnn})
	a2.seq = a.seq
	snap := a2.join(doc)
	if snap.Rev != 3 || snap.AckedReqID != last.ClientReqID {
		t.Fatalf("after the restart Ann's document is at %d with ackedReqId %q, want 3 and %q", snap.Rev, snap.AckedReqID, last.ClientReqID)
	}
	requireRefused(t, p, dialOpts{clientID: idA, token: tokBob, query: poison}, http.StatusForbidden)
	// Ann is still connected, and her edits still commit.
	if op := a2.edit(doc, map[string]any{"n": 3}); op.Rev != 4 {
		t.Fatalf("Ann's edit committed as %d, want 4", op.Rev)
	}

	requireServes(t, p, dialOpts{token: tokBob})
	p.RequireRSSBelow(ownersRSS)
}

// TestProcOpenDeploymentKeepsClientIDsPrivate: without authentication
// anyone may present any client id, so the ids are never shown: other
// clients see the author id instead. The only id a bystander learns names
// a different client: presenting it after a restart neither closes the
// owner's connection, nor shows the owner's ackedReqId, nor moves the
// owner's watermark, even with a request id of 64 × "~".
func TestProcOpenDeploymentKeepsClientIDsPrivate(t *testing.T) {
	p := startSyncd(t)
	idA := newClientID()
	const doc = "owners/open"

	a := dialProc(t, p, dialOpts{clientID: idA})
	b := dialProc(t, p, dialOpts{})
	a.join(doc)
	b.join(doc)
	op := a.edit(doc, map[string]any{"by": "a"})
	seen, _ := b.ackFrom(idA, op.ClientReqID)
	if seen.ClientID == idA || seen.ClientID != a.author {
		t.Fatalf("B sees A's operation authored by %q, want A's author id %s (never the client id %s)", seen.ClientID, a.author, idA)
	}
	a.sendMeta(protocol.TypePublish, "", map[string]any{"doc": doc, "data": "hi"})
	if m := decodeAs[protocol.Message](t, b.expect(protocol.TypeMessage)); m.From != a.author {
		t.Fatalf("MESSAGE from %q, want A's author id", m.From)
	}
	a.ws.Close()
	b.ws.Close()

	p = restartSyncd(t, p)
	a2 := dialProc(t, p, dialOpts{clientID: idA})
	a2.seq = a.seq
	if snap := a2.join(doc); snap.AckedReqID != op.ClientReqID {
		t.Fatalf("A's ackedReqId %q, want %q", snap.AckedReqID, op.ClientReqID)
	}
	// B presents the only id it saw.
	m := dialProc(t, p, dialOpts{clientID: seen.ClientID})
	if ans := m.join(doc); ans.AckedReqID != "" {
		t.Fatalf("B, presenting A's author id, sees ackedReqId %q", ans.AckedReqID)
	}
	poison := strings.Repeat("~", 64)
	m.update(doc, map[string]any{"by": "b"}, poison)
	if got, _ := m.ackFrom(seen.ClientID, poison); got.ClientID == a.author {
		t.Fatal("B's edit was committed under A's name")
	}
	// A is still connected and its edits still commit.
	if got := a2.edit(doc, map[string]any{"by": "a", "again": true}); got.ClientID != a.author {
		t.Fatalf("A's edit authored by %q", got.ClientID)
	}

	requireServes(t, p, dialOpts{})
	p.RequireRSSBelow(ownersRSS)
}

// TestProcStaleAttemptKeepsLiveConnection: an upgrade the network delayed
// (its attempt value older than the live connection's) arrives after the
// client's newer connection: it is refused with HTTP 409 and the live
// connection stays, also after a restart.
func TestProcStaleAttemptKeepsLiveConnection(t *testing.T) {
	p := startSyncd(t)
	id := newClientID()
	const doc = "owners/attempts"
	attempt := func(v string) dialOpts {
		return dialOpts{clientID: id, query: url.Values{"attempt": {v}}}
	}
	const a1, a2, a3 = "01JD3NB8W5C2K7R4M9X1T6Q3F1", "01JD3NB8W5C2K7R4M9X1T6Q3F2", "01JD3NB8W5C2K7R4M9X1T6Q3F3"

	live := dialProc(t, p, attempt(a2))
	live.join(doc)
	live.edit(doc, map[string]any{"n": 1})
	requireRefused(t, p, attempt(a1), http.StatusConflict)
	requireRefused(t, p, attempt(a2), http.StatusConflict)
	if op := live.edit(doc, map[string]any{"n": 2}); op.Rev != 2 {
		t.Fatalf("the live connection's edit committed as %d, want 2", op.Rev)
	}
	live.ws.Close()

	p = restartSyncd(t, p)
	live2 := dialProc(t, p, attempt(a3))
	live2.seq = live.seq
	if snap := live2.join(doc); snap.Rev != 2 {
		t.Fatalf("after the restart the document is at %d, want 2", snap.Rev)
	}
	requireRefused(t, p, attempt(a2), http.StatusConflict)
	if op := live2.edit(doc, map[string]any{"n": 3}); op.Rev != 3 {
		t.Fatalf("the live connection's edit committed as %d, want 3", op.Rev)
	}

	requireServes(t, p, dialOpts{})
	p.RequireRSSBelow(ownersRSS)
}
