package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// claimFailingStore fails every ClaimClient while failing is set.
type claimFailingStore struct {
	*memstore.Store
	failing atomic.Bool
}

func (s *claimFailingStore) ClaimClient(ctx context.Context, c syncd.ClientClaim) (syncd.ClientRecord, error) {
	if s.failing.Load() {
		return syncd.ClientRecord{}, fmt.Errorf("disk on fire: %w", syncd.ErrUnavailable)
	}
	return s.Store.ClaimClient(ctx, c)
}

// requireStatus dials ev with o and requires the upgrade to be refused
// with status.
func requireStatus(t *testing.T, ev *env, o dialOpts, status int) {
	t.Helper()
	c, resp, err := dialURL(t, ev.url, o, ev)
	if err == nil {
		c.ws.Close()
		t.Fatalf("upgrade with %+v accepted, want HTTP %d", o, status)
	}
	if resp == nil || resp.StatusCode != status {
		t.Fatalf("upgrade with %+v: %v (%v), want HTTP %d", o, err, resp, status)
	}
}

// TestClaimsAtTheUpgrade: what the client record decides, as the upgrade
// answers it: another user's claim is 403 and cannot raise the owner's
// attempt; a stale attempt is 409; a store that cannot answer is 503 (the
// client retries), and nothing is let in unchecked meanwhile.
func TestClaimsAtTheUpgrade(t *testing.T) {
	const secret = "owners-unit-secret-0123456789abcdefghij"
	st := &claimFailingStore{Store: memstore.New(memstore.Options{})}
	ev := newEnvStore(t, st, syncd.Options{}, server.Options{JWTSecret: []byte(secret)})
	ann := token(t, secret, "ann", nil, time.Hour)
	bob := token(t, secret, "bob", nil, time.Hour)
	id := newClientID()
	at := func(v string) url.Values { return url.Values{"attempt": {v}} }

	a := ev.dialWith(dialOpts{clientID: id, token: ann, query: at("a-5")})
	requireStatus(t, ev, dialOpts{clientID: id, token: bob, query: at(strings.Repeat("~", 64))}, http.StatusForbidden)
	requireStatus(t, ev, dialOpts{clientID: id, token: ann, query: at("a-4")}, http.StatusConflict)
	a.ws.Close()
	// Bob's refused claim did not raise Ann's attempt: a-6 is granted.
	a2 := ev.dialWith(dialOpts{clientID: id, token: ann, query: at("a-6")})
	a2.join("owners/unit")

	st.failing.Store(true)
	requireStatus(t, ev, dialOpts{clientID: id, token: ann, query: at("a-7")}, http.StatusServiceUnavailable)
	requireStatus(t, ev, dialOpts{token: ann}, http.StatusServiceUnavailable) // a new id must be bound too
	st.failing.Store(false)
	a3 := ev.dialWith(dialOpts{clientID: id, token: ann, query: at("a-8")})
	a3.join("owners/unit")
}
