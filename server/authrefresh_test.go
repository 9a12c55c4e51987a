package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// A token's exp holds for the whole connection: the server closes with
// 4401 at exp + leeway unless AUTH.REFRESH brought a newer token of the
// same user. Short leeways and exps keep these tests to a few seconds.

const testLeeway = 300 * time.Millisecond

// expiringToken signs a token for sub that expires at the first whole
// second at least d from now (exp has one-second resolution), and returns
// that time.
func expiringToken(t testing.TB, sub string, d time.Duration, docs *docsClaim) (string, time.Time) {
	t.Helper()
	exp := time.Now().Add(d + time.Second - 1).Truncate(time.Second)
	c := jwt.MapClaims{"sub": sub, "exp": exp.Unix()}
	if docs != nil {
		c["docs"] = docs
	}
	return signed(t, jwt.SigningMethodHS256, []byte(jwtSecret), "", c), exp
}

func refreshEnv(t *testing.T) *env {
	return newEnv(t, syncd.Options{}, server.Options{JWTSecret: []byte(jwtSecret), JWTLeeway: testLeeway})
}

func TestTokenExpiryClosesConnection(t *testing.T) {
	ev := refreshEnv(t)
	tok, exp := expiringToken(t, "ann", 2*time.Second, nil)
	c := ev.dialWith(dialOpts{token: tok})
	c.join("expiry/a")
	c.alive()
	code := c.closeCode()
	closedAt := time.Now()
	if code != protocol.CloseUnauthenticated {
		t.Fatalf("close %d, want 4401", code)
	}
	// Not before exp + leeway (a little slack for clocks), and not long after.
	if early := exp.Add(testLeeway).Sub(closedAt); early > 50*time.Millisecond {
		t.Fatalf("closed %v before exp + leeway", early)
	}
	if late := closedAt.Sub(exp.Add(testLeeway)); late > 3*time.Second {
		t.Fatalf("closed %v after exp + leeway", late)
	}
}

func refreshOK(t *testing.T, c *client, tok string) protocol.AuthRefreshOK {
	t.Helper()
	cid := c.nextCID()
	c.sendMeta(protocol.TypeAuthRefresh, cid, map[string]any{"token": tok})
	m := c.expect(protocol.TypeAuthRefreshOK)
	if m.CorrelationID() != cid {
		t.Fatalf("AUTH.REFRESH.OK for %q, want %q", m.CorrelationID(), cid)
	}
	var ok protocol.AuthRefreshOK
	if err := json.Unmarshal(m.Payload, &ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestAuthRefreshExtendsAndReplacesClaims(t *testing.T) {
	ev := refreshEnv(t)
	// Three seconds: the refused refreshes below must all be answered
	// while the first token still holds, even on a loaded machine.
	tok, exp := expiringToken(t, "ann", 3*time.Second, nil)
	c := ev.dialWith(dialOpts{token: tok})
	c.join("team/a")
	c.join("other/y")

	// Refused refreshes change nothing: another user's token, an invalid
	// one, an expired one, none at all.
	c.send(protocol.TypeAuthRefresh, map[string]any{"token": token(t, jwtSecret, "bob", nil, time.Hour)})
	c.expectError(protocol.CodePermissionDenied)
	c.sendMeta(protocol.TypeAuthRefresh, "bad-1", map[string]any{"token": "not.a.jwt"})
	c.expectRPCError("bad-1", protocol.CodeUnauthenticated)
	c.send(protocol.TypeAuthRefresh, map[string]any{"token": token(t, "another-secret-of-at-least-32-bytes", "ann", nil, time.Hour)})
	c.expectError(protocol.CodeUnauthenticated)
	c.send(protocol.TypeAuthRefresh, map[string]any{"token": token(t, jwtSecret, "ann", nil, -time.Hour)})
	c.expectError(protocol.CodeUnauthenticated)
	c.send(protocol.TypeAuthRefresh, map[string]any{})
	c.expectError(protocol.CodeInvalidArgument)

	// A good one: the same user, later exp, narrower documents.
	newTok, newExp := expiringToken(t, "ann", time.Hour, &docsClaim{Read: []string{"team/*"}, Write: []string{"team/a"}})
	if got := refreshOK(t, c, newTok); got.Exp != newExp.Unix() {
		t.Fatalf("AUTH.REFRESH.OK exp %d, want %d", got.Exp, newExp.Unix())
	}
	// other/y is no longer readable: it is left at once, and said so.
	var revoked struct{ Doc string }
	if err := json.Unmarshal(c.expectError(protocol.CodePermissionDenied).Details, &revoked); err != nil || revoked.Doc != "other/y" {
		t.Fatalf("revocation details %+v %v", revoked, err)
	}
	writer := ev.dialWith(dialOpts{token: token(t, jwtSecret, "bob", nil, time.Hour)})
	writer.join("other/y")
	writer.edit("other/y", map[string]any{"secret": 1})
	writer.rpcOK(protocol.TypePublish, map[string]any{"doc": "other/y", "data": "secret"})
	for _, m := range c.drain() {
		t.Fatalf("a revoked document still reached the client: %s", m.Raw)
	}
	id0 := c.nextReq()
	c.update("other/y", map[string]any{"x": 1}, id0)
	c.expectError(protocol.CodeFailedPrecondition) // not joined any more
	// Past the old token's exp + leeway, the connection is still up.
	time.Sleep(time.Until(exp.Add(testLeeway + 300*time.Millisecond)))
	c.alive()
	// The new claims rule from now on.
	c.send(protocol.TypeJoin, map[string]any{"doc": "other/x"})
	c.expectError(protocol.CodePermissionDenied)
	c.join("team/b")
	id := c.nextReq()
	c.update("team/b", map[string]any{"x": 1}, id)
	c.expectError(protocol.CodePermissionDenied)
	c.edit("team/a", map[string]any{"x": 1})

	// A refresh sent as a plain message is answered too; this token is
	// short, and its expiry closes the connection.
	shortTok, shortExp := expiringToken(t, "ann", time.Second, nil)
	c.send(protocol.TypeAuthRefresh, map[string]any{"token": shortTok})
	c.expect(protocol.TypeAuthRefreshOK)
	if code := c.closeCode(); code != protocol.CloseUnauthenticated {
		t.Fatalf("close %d, want 4401", code)
	}
	if time.Now().Before(shortExp.Add(testLeeway - 50*time.Millisecond)) {
		t.Fatal("closed before the refreshed token's exp + leeway")
	}
}

func TestAuthRefreshWithoutExpNeverExpires(t *testing.T) {
	ev := refreshEnv(t)
	tok, exp := expiringToken(t, "ann", 2*time.Second, nil)
	c := ev.dialWith(dialOpts{token: tok})
	noExp := signed(t, jwt.SigningMethodHS256, []byte(jwtSecret), "", jwt.MapClaims{"sub": "ann"})
	if got := refreshOK(t, c, noExp); got.Exp != 0 {
		t.Fatalf("exp %d, want none", got.Exp)
	}
	time.Sleep(time.Until(exp.Add(testLeeway + 300*time.Millisecond)))
	c.alive()
}

func TestAuthRefreshWithoutAuthentication(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	c := ev.dialWith(dialOpts{})
	c.send(protocol.TypeAuthRefresh, map[string]any{"token": token(t, jwtSecret, "ann", nil, time.Hour)})
	c.expectError(protocol.CodeFailedPrecondition)
	c.alive()
}

// TestAuthRefreshRevokesTopics: a refreshed token that no longer grants a
// subscribed topic leaves it at once, says so, and stops its messages.
func TestAuthRefreshRevokesTopics(t *testing.T) {
	ev := refreshEnv(t)
	both := map[string]any{"topics": map[string]any{"read": []string{"news/*"}, "write": []string{"news/*"}}}
	c := ev.dialWith(dialOpts{token: signClaims(t, jwtSecret, "ann", both)})
	for _, topic := range []string{"news/keep", "news/drop"} {
		c.rpcOK(protocol.TypeSubscribe, map[string]any{"topic": topic})
	}
	narrow := map[string]any{"topics": map[string]any{"read": []string{"news/keep"}, "write": []string{"news/keep"}}}
	refreshOK(t, c, signClaims(t, jwtSecret, "ann", narrow))
	var revoked struct{ Topic string }
	if err := json.Unmarshal(c.expectError(protocol.CodePermissionDenied).Details, &revoked); err != nil || revoked.Topic != "news/drop" {
		t.Fatalf("revocation details %+v %v", revoked, err)
	}
	pub := ev.dialWith(dialOpts{token: signClaims(t, jwtSecret, "bob", both)})
	for _, topic := range []string{"news/drop", "news/keep"} {
		pub.rpcOK(protocol.TypeSubscribe, map[string]any{"topic": topic})
		pub.rpcOK(protocol.TypePublish, map[string]any{"topic": topic, "data": map[string]any{"t": topic}})
	}
	m := c.expect(protocol.TypeMessage)
	if msg := decodeAs[protocol.Message](t, m); msg.Topic != "news/keep" {
		t.Fatalf("a message of a revoked topic reached the client: %s", m.Raw)
	}
}
