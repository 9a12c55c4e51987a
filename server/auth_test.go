package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// Authentication with JWTs: refused upgrades (401, 403), and documents
// outside the token's patterns (PERMISSION_DENIED). Each is also a case of
// the bad-input catalogue: the server stays up, the document is unchanged,
// a second client notices nothing.

const jwtSecret = "test-secret-of-at-least-32-bytes!"

func jwtOpts(t *testing.T, joined bool) badOpts {
	good := token(t, jwtSecret, "bystander", nil, time.Hour)
	return badOpts{
		so:     server.Options{JWTSecret: []byte(jwtSecret)},
		joined: joined,
		dial:   func(ev *env) *client { return ev.dialWith(dialOpts{token: good}) },
	}
}

// refusedUpgrade dials with o and expects the upgrade refused with status.
func refusedUpgrade(t *testing.T, ev *env, o dialOpts, status int) {
	t.Helper()
	c, resp, err := ev.tryDial(o)
	if err == nil {
		c.ws.Close()
		t.Fatalf("upgrade accepted, want HTTP %d", status)
	}
	if resp == nil || resp.StatusCode != status {
		t.Fatalf("upgrade refused with %v (%v), want HTTP %d", resp, err, status)
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("401 without WWW-Authenticate: %v", resp.Header)
	}
}

func TestBadInputMissingOrWrongToken(t *testing.T) {
	bi := newBadInput(t, badOpts{noAttacker: true, so: jwtOpts(t, false).so, dial: jwtOpts(t, false).dial})
	ev := bi.ev
	expired := token(t, jwtSecret, "eve", nil, -time.Minute)
	wrongKey := token(t, "another-secret", "eve", nil, time.Hour)
	noSub, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(jwtSecret))
	otherAlg, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "eve"}).SignedString([]byte(jwtSecret))
	unsigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "eve"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for name, o := range map[string]dialOpts{
		"no token":          {},
		"expired":           {token: expired},
		"wrong key":         {token: wrongKey},
		"no sub":            {token: noSub},
		"HS512":             {token: otherAlg},
		"alg none":          {token: unsigned},
		"garbage":           {token: "not.a.jwt"},
		"wrong subprotocol": {protocols: []string{"bearer." + wrongKey}},
		"wrong header":      {header: http.Header{"Authorization": {"Bearer " + wrongKey}}},
		"basic auth":        {header: http.Header{"Authorization": {"Basic ZXZlOmV2ZQ=="}}},
	} {
		t.Run(name, func(t *testing.T) { refusedUpgrade(t, ev, o, http.StatusUnauthorized) })
	}
	// The good ways in, for contrast: query, subprotocol, header.
	good := token(t, jwtSecret, "ann", nil, time.Hour)
	for _, o := range []dialOpts{{token: good}, {protocols: []string{"bearer." + good}}, {header: http.Header{"Authorization": {"Bearer " + good}}}} {
		c := ev.dialWith(o)
		if got := c.resp.Header.Get("Sec-Websocket-Protocol"); strings.Contains(got, "bearer") {
			t.Fatalf("token echoed: %q", got)
		}
		c.alive()
		c.ws.Close()
	}
	bi.check()
}

func TestBadInputDocOutsideTokenPatterns(t *testing.T) {
	o := jwtOpts(t, false)
	bi := newBadInput(t, badOpts{noAttacker: true, so: o.so, dial: o.dial})
	ev := bi.ev
	// Eve may read bad/* and team:1/*, and write only team:1/*.
	eve := ev.dialWith(dialOpts{token: token(t, jwtSecret, "eve", &docsClaim{Read: []string{"bad/*", "team:1/*"}, Write: []string{"team:1/*"}}, time.Hour)})
	bi.attacker = eve

	for _, doc := range []string{"secret/plans", "team:2/notes", "bad", "team:1"} {
		eve.send(protocol.TypeJoin, map[string]any{"doc": doc})
		eve.expectError(protocol.CodePermissionDenied)
	}
	// As an RPC: RPC_ERROR with the correlationId.
	eve.sendMeta(protocol.TypeJoin, "j-1", map[string]any{"doc": "secret/plans"})
	eve.expectRPCError("j-1", protocol.CodePermissionDenied)
	// Readable but not writable: joining works, editing is refused with
	// the edit's details.
	eve.join(badDoc)
	id := eve.nextReq()
	eve.update(badDoc, map[string]any{"title": "defaced"}, id)
	if d := updateDetails(t, eve.expectError(protocol.CodePermissionDenied), badDoc, id); d.ServerRev != bi.before.Rev {
		t.Fatalf("details %+v", d)
	}
	// "*" matches across "/": team:1/a/b is eve's to write.
	eve.join("team:1/a/b")
	eve.edit("team:1/a/b", map[string]any{"ok": true})
	if _, err := ev.engine.State(t.Context(), "secret/plans"); err == nil {
		t.Fatal("a refused JOIN created the document")
	}

	// A token with only read patterns grants no writes at all.
	ro := ev.dialWith(dialOpts{token: token(t, jwtSecret, "reader", &docsClaim{Read: []string{"*"}}, time.Hour)})
	ro.join(badDoc)
	id = ro.nextReq()
	ro.update(badDoc, map[string]any{"title": "defaced"}, id)
	updateDetails(t, ro.expectError(protocol.CodePermissionDenied), badDoc, id)
	bi.check()
}

func TestAuthClientIDBelongsToItsUser(t *testing.T) {
	o := jwtOpts(t, false)
	bi := newBadInput(t, badOpts{noAttacker: true, so: o.so, dial: o.dial})
	ev := bi.ev
	annTok := token(t, jwtSecret, "ann", nil, time.Hour)
	id := newClientID()
	ann := ev.dialWith(dialOpts{clientID: id, token: annTok})
	ann.join(badDoc)
	ann.edit(badDoc, map[string]any{"by": "ann"})
	bi.before = ev.snapshot(badDoc)
	bi.bystander.expect(protocol.TypeSyncDeltas)

	// Eve, with a valid token of her own, cannot take Ann's client id (and
	// with it Ann's watermarks): 403, and Ann stays connected.
	refusedUpgrade(t, ev, dialOpts{clientID: id, token: token(t, jwtSecret, "eve", nil, time.Hour)}, http.StatusForbidden)
	refusedUpgrade(t, ev, dialOpts{clientID: strings.ToLower(id), token: token(t, jwtSecret, "eve", nil, time.Hour)}, http.StatusForbidden)
	ann.alive()
	// An invalid client id is refused before anything else.
	refusedUpgrade(t, ev, dialOpts{clientID: "not-a-ulid", token: annTok}, http.StatusBadRequest)
	// Ann herself may come back with it.
	closed := ann.closeCodeAsync()
	back := ev.dialWith(dialOpts{clientID: id, token: annTok})
	if code := receive(t, closed); code != protocol.CloseReplaced {
		t.Fatalf("close %d", code)
	}
	back.alive()
	bi.check()
}
