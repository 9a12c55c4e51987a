package server_test

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// Findings of an authentication and authorization review, each a test
// that failed before its fix.

// TestAuthRefreshWithoutWriteClearsPresence: presence needs write on the
// document (PROTOCOL.md §2.3: "a reader ... is not listed in the room's
// presence"), and a refreshed token's narrower rights take effect at once
// (§4.10, docs/security.md). A client whose refreshed token keeps read but
// drops write on a joined document must leave that room's presence: it may
// no longer send to the document's editors, and a value it set under the
// old token must not keep being shown to them (and to every later joiner).
func TestAuthRefreshWithoutWriteClearsPresence(t *testing.T) {
	ev := refreshEnv(t)
	const doc = "room/a"
	rw := &docsClaim{Read: []string{"room/*"}, Write: []string{"room/*"}}
	ann := ev.dialWith(dialOpts{token: token(t, jwtSecret, "ann", rw, time.Hour)})
	ann.joinWith(map[string]any{"doc": doc, "presence": map[string]any{"name": "ann"}}, "")
	ann.presence() // its own

	bob := ev.dialWith(dialOpts{token: token(t, jwtSecret, "bob", rw, time.Hour)})
	ans := bob.joinWith(map[string]any{"doc": doc}, "")
	if presenceOf(ans.presence)[ann.author] == "" {
		t.Fatalf("bob does not see ann's presence before the refresh: %+v", ans.presence)
	}

	// The same user, now read-only on the room.
	refreshOK(t, ann, token(t, jwtSecret, "ann", &docsClaim{Read: []string{"room/*"}}, time.Hour))
	ann.alive()
	// Still joined (read is kept), but no longer allowed to send presence.
	ann.send(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": map[string]any{"name": "x"}})
	ann.expectError(protocol.CodePermissionDenied)

	// A newcomer must not find the read-only client listed in the room.
	cy := ev.dialWith(dialOpts{token: token(t, jwtSecret, "cy", rw, time.Hour)})
	ans = cy.joinWith(map[string]any{"doc": doc}, "")
	if st, listed := presenceOf(ans.presence)[ann.author]; listed {
		t.Fatalf("after a refresh without write, the room still lists the read-only client with %s", st)
	}
}

// TestAuthRefreshRacesAdminReads: AUTH.REFRESH replaces a session's user
// under session.mu, while the admin page's overview and document views
// read sess.user from an HTTP goroutine without it. Run with -race: the
// detector reports the unsynchronised read of the pointer.
func TestAuthRefreshRacesAdminReads(t *testing.T) {
	ev := newAdminEnv(t, server.Options{JWTSecret: []byte(jwtSecret)})
	b := newAdminBrowser(t, ev)
	if status, _ := b.signIn(adminKey); status != http.StatusSeeOther {
		t.Fatalf("sign in: HTTP %d", status)
	}
	ann := ev.dialWith(dialOpts{token: token(t, jwtSecret, "ann", nil, time.Hour)})
	ann.join("race/a")
	ann.edit("race/a", map[string]any{"x": 1}) // an op of ann's, for the document view

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, path := range []string{"/admin/api/overview", "/admin/api/doc?id=race/a"} {
				if resp, err := b.client.Get(ev.base + path); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
	}()
	for range 50 {
		refreshOK(t, ann, token(t, jwtSecret, "ann", nil, time.Hour))
	}
	close(stop)
	wg.Wait()
}

// TestDocsClaimNullGrantsNothing: a docs claim that is present but null
// ({"docs": null}, what many serializers write for a user with no
// grants) is a docs claim, and grants no document, as {"docs": {}} and
// {"docs": {"read": null}} already do. It used to read as an absent
// claim, which grants every document: the one spelling of "nothing" that
// failed open.
func TestDocsClaimNullGrantsNothing(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{JWTSecret: []byte(jwtSecret)})
	for _, docs := range []any{nil, map[string]any{}, map[string]any{"read": nil, "write": nil}} {
		c := ev.dialWith(dialOpts{token: signClaims(t, jwtSecret, "nobody", map[string]any{"docs": docs})})
		c.send(protocol.TypeJoin, map[string]any{"doc": "secret/plans"})
		c.expectError(protocol.CodePermissionDenied)
	}
}

// TestAPIKeyGuessesRateLimited: the admin sign-in allows a few wrong keys a
// second per address "so that the key cannot be guessed online"
// (adminauth.go). Without -admin-key the API key is the admin key, and the
// HTTP API checks that same key on every /v1 request with no limit at all:
// an unlimited oracle for the admin key, around the sign-in's limit.
// (The API key has no minimum length either, unlike -jwt-secret.)
func TestAPIKeyGuessesRateLimited(t *testing.T) {
	const apiKey = "api-key-for-the-guessing-test"
	ev := newAdminEnv(t, server.Options{APIKey: apiKey, AdminKey: apiKey})
	b := newAdminBrowser(t, ev)
	// The sign-in form is cut off after a burst of wrong keys...
	limited := false
	for i := 0; i < 20 && !limited; i++ {
		status, _ := b.signIn("guess")
		limited = status == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("the admin sign-in was never rate-limited")
	}
	// ...while the same key can be tried over the API as fast as the
	// client sends, from the same address.
	for i := range 200 {
		status, _ := apiRequest(t, ev, "GET", "/v1/docs", "", http.Header{"X-Api-Key": {fmt.Sprintf("guess-%d", i)}})
		if status == http.StatusTooManyRequests {
			return
		}
		if status != http.StatusUnauthorized {
			t.Fatalf("a wrong API key: HTTP %d", status)
		}
	}
	t.Fatal("200 wrong API keys in a row from one address were never rate-limited: the admin key (= the API key) can be guessed online through /v1")
}

// TestAPIKeyGuessesLimitedPerIPv6Network: wrong keys from many addresses of
// one IPv6 /64 (which its holder may use at will) share one bucket, and
// another /64 has its own.
func TestAPIKeyGuessesLimitedPerIPv6Network(t *testing.T) {
	const apiKey = "api-key-for-the-ipv6-guessing-test"
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: apiKey, TrustedProxies: []string{"127.0.0.1/8", "::1"}})
	from := func(addr, key string) int {
		status, _ := apiRequest(t, ev, "GET", "/v1/docs", "", http.Header{"X-Api-Key": {key}, "X-Forwarded-For": {addr}})
		return status
	}
	limited := false
	for i := 0; i < 200 && !limited; i++ {
		status := from(fmt.Sprintf("2001:db8:aa:bb::%x", i+1), fmt.Sprintf("guess-%d", i))
		switch status {
		case http.StatusTooManyRequests:
			limited = true
		case http.StatusUnauthorized:
		default:
			t.Fatalf("a wrong API key: HTTP %d", status)
		}
	}
	if !limited {
		t.Fatal("200 wrong API keys from 200 addresses of one /64 were never rate-limited")
	}
	if status := from("2001:db8:aa:cc::1", "guess-elsewhere"); status != http.StatusUnauthorized {
		t.Fatalf("a wrong key from another /64: HTTP %d, want 401 (its own bucket)", status)
	}
}
