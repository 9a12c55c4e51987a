package client_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

const tokenSecret = "client-test-secret-of-32-bytes-at-least"

// hs256 signs claims (an HS256 JWT written out by hand: the SDK's tests
// need no JWT library).
func hs256(t testing.TB, claims map[string]any) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	data := b64([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + b64(body)
	mac := hmac.New(sha256.New, []byte(tokenSecret))
	mac.Write([]byte(data))
	return data + "." + b64(mac.Sum(nil))
}

// shortToken is a token for sub that expires in about d (exp has
// one-second resolution).
func shortToken(t testing.TB, sub string, d time.Duration) string {
	return hs256(t, map[string]any{"sub": sub, "exp": time.Now().Add(d).Unix()})
}

// testLeeway is short, to keep the tests short, yet leaves a refresh time
// to arrive on a loaded machine.
const testLeeway = time.Second

func authEnv(t *testing.T) *env {
	return newEnv(t, syncd.Options{}, server.Options{JWTSecret: []byte(tokenSecret), JWTLeeway: testLeeway})
}

// TestTokenSourceRefreshesBeforeExpiry: tokens that live two seconds keep
// one connection up for several of their lifetimes, by AUTH.REFRESH, with
// no reconnect.
func TestTokenSourceRefreshesBeforeExpiry(t *testing.T) {
	ev := authEnv(t)
	var calls atomic.Int32
	var mu sync.Mutex
	var states []client.State
	c := dial(t, ev.url, func(o *client.Options) {
		o.TokenSource = func(ctx context.Context) (string, error) {
			calls.Add(1)
			return shortToken(t, "ann", 2*time.Second), nil
		}
		o.OnState = func(s client.State, _ error) { mu.Lock(); states = append(states, s); mu.Unlock() }
	})
	d := join(t, c, "tokens:a")
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		if _, err := d.Merge(map[string]any{"n": i}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err := d.Settled(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n < 3 {
		t.Fatalf("TokenSource called %d times in 5 s of 2-second tokens, want at least 3", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range states {
		if s != client.StateConnected {
			t.Fatalf("states %v: the connection did not stay up", states)
		}
	}
	if c.State() != client.StateConnected {
		t.Fatalf("state %v", c.State())
	}
}

// TestTokenExpiryWithoutSource: a fixed token that expires closes the
// connection with 4401, and the client stops (new credentials needed).
func TestTokenExpiryWithoutSource(t *testing.T) {
	ev := authEnv(t)
	c := dial(t, ev.url, func(o *client.Options) { o.Token = shortToken(t, "ann", time.Second) })
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("still connected 10 s after the token expired")
	}
	var ce *client.CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != protocol.CloseUnauthenticated {
		t.Fatalf("Err %v, want close 4401", c.Err())
	}
}

// TestTokenExpiryReconnectsWithSource: when refreshing fails (here the
// source fails until a while after the first token expired), the server
// closes with 4401 at exp + leeway, and the client reconnects with a token
// from the source rather than stopping.
func TestTokenExpiryReconnectsWithSource(t *testing.T) {
	ev := authEnv(t)
	var mu sync.Mutex
	var firstExp time.Time
	connects := 0
	c := dial(t, ev.url, func(o *client.Options) {
		o.TokenSource = func(ctx context.Context) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			if firstExp.IsZero() {
				firstExp = time.Now().Add(time.Second).Truncate(time.Second)
				return hs256(t, map[string]any{"sub": "ann", "exp": firstExp.Unix()}), nil
			}
			if time.Now().Before(firstExp.Add(testLeeway + 500*time.Millisecond)) {
				return "", errors.New("the identity provider is down")
			}
			return shortToken(t, "ann", time.Hour), nil
		}
		o.OnState = func(s client.State, _ error) {
			if s == client.StateConnected {
				mu.Lock()
				connects++
				mu.Unlock()
			}
		}
	})
	d := join(t, c, "tokens:b")
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := connects
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconnect after the token expired (connects %d, err %v)", n, c.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := d.Merge(map[string]any{"after": "reconnect"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Settled(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshTokenByHand(t *testing.T) {
	ev := authEnv(t)
	c := dial(t, ev.url, func(o *client.Options) { o.Token = shortToken(t, "ann", time.Hour) })
	exp := time.Now().Add(2 * time.Hour).Unix()
	got, err := c.RefreshToken(ctxT(t), hs256(t, map[string]any{"sub": "ann", "exp": exp}))
	if err != nil || got.Unix() != exp {
		t.Fatalf("RefreshToken: %v %v, want exp %d", got, err, exp)
	}
	if _, err := c.RefreshToken(ctxT(t), shortToken(t, "bob", time.Hour)); protocol.CodeOf(err) != protocol.CodePermissionDenied {
		t.Fatalf("another user's token: %v", err)
	}
	if _, err := c.RefreshToken(ctxT(t), "not.a.jwt"); protocol.CodeOf(err) != protocol.CodeUnauthenticated {
		t.Fatalf("garbage token: %v", err)
	}

	// A narrower token takes a joined document away: it stops being live.
	keep, lose := join(t, c, "team/a"), join(t, c, "other/b")
	narrow := hs256(t, map[string]any{"sub": "ann", "exp": exp, "docs": map[string]any{"read": []string{"team/*"}, "write": []string{"team/*"}}})
	if _, err := c.RefreshToken(ctxT(t), narrow); err != nil {
		t.Fatal(err)
	}
	ev.commit("other/b", map[string]any{"secret": true})
	// The server answers the refresh first and then says which documents
	// it took away, so the revocation may arrive a little after
	// RefreshToken returned: a document that is no longer live never
	// settles.
	revoked := false
	for deadline := time.Now().Add(5 * time.Second); !revoked && time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		revoked = lose.Settled(ctx) != nil
		cancel()
		if !revoked {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !revoked {
		t.Fatal("the revoked document is still live")
	}
	if lose.Rev() != 0 {
		t.Fatalf("the revoked document received rev %d", lose.Rev())
	}
	if _, err := keep.Merge(map[string]any{"still": "mine"}); err != nil {
		t.Fatal(err)
	}
	if err := keep.Settled(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// A narrower token takes a subscribed topic away (PROTOCOL.md §4.10): the
// application hears of it through OnRevoked, the topic's handler is not
// called again, and a topic it may still read is unaffected. A document
// taken away is reported the same way.
func TestRefreshTokenRevokesTopics(t *testing.T) {
	ev := authEnv(t)
	exp := time.Now().Add(time.Hour).Unix()
	all := map[string][]string{"read": {"*"}, "write": {"*"}}
	revoked := make(chan client.Revocation, 4)
	var newsAfter, keepAfter atomic.Int32
	var narrowed atomic.Bool
	c := dial(t, ev.url, func(o *client.Options) {
		o.Token = hs256(t, map[string]any{"sub": "ann", "exp": exp, "docs": all, "topics": all})
		o.OnRevoked = func(r client.Revocation) { revoked <- r }
	})
	ctx := ctxT(t)
	count := func(n *atomic.Int32) func(client.Message) {
		return func(client.Message) {
			if narrowed.Load() {
				n.Add(1)
			}
		}
	}
	for topic, n := range map[string]*atomic.Int32{"news": &newsAfter, "keep": &keepAfter} {
		if err := c.Subscribe(ctx, topic, count(n)); err != nil {
			t.Fatal(err)
		}
	}
	join(t, c, "secret/doc")

	narrow := map[string][]string{"read": {"keep"}, "write": {"keep"}}
	if _, err := c.RefreshToken(ctx, hs256(t, map[string]any{"sub": "ann", "exp": exp, "docs": map[string][]string{"read": {"team/*"}}, "topics": narrow})); err != nil {
		t.Fatal(err)
	}
	want := map[client.Revocation]bool{}
	for range 2 {
		select {
		case r := <-revoked:
			r.Message = ""
			want[r] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("revocations reported: %v, want the topic news and the document secret/doc", want)
		}
	}
	if !want[client.Revocation{Topic: "news"}] || !want[client.Revocation{Doc: "secret/doc"}] {
		t.Fatalf("revocations %v, want the topic news and the document secret/doc", want)
	}
	narrowed.Store(true)

	// Another client publishes to both topics: only keep still arrives.
	pub := dial(t, ev.url, func(o *client.Options) {
		o.Token = hs256(t, map[string]any{"sub": "bob", "exp": exp, "topics": all})
	})
	for _, topic := range []string{"news", "keep"} {
		if err := pub.Subscribe(ctx, topic, func(client.Message) {}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for keepAfter.Load() == 0 && time.Now().Before(deadline) {
		for _, topic := range []string{"news", "keep"} {
			if err := pub.PublishTopic(ctx, topic, "hello"); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if keepAfter.Load() == 0 {
		t.Fatal("the topic the token still allows stopped arriving")
	}
	if n := newsAfter.Load(); n != 0 {
		t.Fatalf("the revoked topic's handler was called %d times after the revocation", n)
	}
}
