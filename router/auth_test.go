package router_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// authServer accepts the token "good" (data: the user), refuses "banned"
// with PERMISSION_DENIED, and anything else with UNAUTHENTICATED.
func authServer(t *testing.T, opts router.Options) (*testServer, *recorder) {
	rec := newRecorder()
	opts.Authenticate = func(a router.AuthRequest) (any, error) {
		rec.add("token " + a.Token)
		switch a.Token {
		case "good":
			return "alice", nil
		case "banned":
			return nil, protocol.NewError(protocol.CodePermissionDenied, "banned")
		}
		return nil, protocol.NewError(protocol.CodeUnauthenticated, "bad token")
	}
	ts := newServer(t, opts, func(r *router.Router) {
		router.Handle(r, "WHOAMI", func(x *router.Ctx, _ struct{}) error {
			return x.Reply("YOUARE", map[string]any{"user": x.Conn().Data(), "subprotocol": x.Conn().Subprotocol()})
		})
	})
	return ts, rec
}

func TestAuthQueryToken(t *testing.T) {
	ts, rec := authServer(t, router.Options{})
	c := ts.dial(dialOpts{query: url.Values{"access_token": {"good"}}})
	rec.wait(t, "token good")
	c.send("WHOAMI", "w", nil)
	if m := c.expect("YOUARE"); string(m.Payload) != `{"subprotocol":"","user":"alice"}` {
		t.Fatalf("%s", m.Raw)
	}
}

func TestAuthBearerSubprotocolNotEchoed(t *testing.T) {
	ts, _ := authServer(t, router.Options{})
	// Only the token entry: no subprotocol in the answer.
	c := ts.dial(dialOpts{protocols: []string{"bearer.good"}})
	if got := c.resp.Header.Get("Sec-Websocket-Protocol"); got != "" {
		t.Fatalf("server answered subprotocol %q", got)
	}
	c.echo("ok")
	// With a real subprotocol too (ws-kit appends the token): that one is
	// selected, and the token is not echoed.
	c2 := ts.dial(dialOpts{protocols: []string{"syncd.v1", "bearer.good"}})
	if got := c2.resp.Header.Get("Sec-Websocket-Protocol"); got != "syncd.v1" {
		t.Fatalf("server answered subprotocol %q", got)
	}
	c2.send("WHOAMI", "w", nil)
	if m := c2.expect("YOUARE"); string(m.Payload) != `{"subprotocol":"syncd.v1","user":"alice"}` {
		t.Fatalf("%s", m.Raw)
	}
}

func TestAuthSubprotocolList(t *testing.T) {
	ts, _ := authServer(t, router.Options{Subprotocols: []string{"b", "a"}})
	c := ts.dial(dialOpts{protocols: []string{"bearer.good", "a", "b"}})
	if got := c.resp.Header.Get("Sec-Websocket-Protocol"); got != "b" {
		t.Fatalf("server answered subprotocol %q, want its preference b", got)
	}
}

func TestAuthHeader(t *testing.T) {
	ts, rec := authServer(t, router.Options{})
	c := ts.dial(dialOpts{header: http.Header{"Authorization": {"Bearer good"}}})
	rec.wait(t, "token good")
	c.echo("ok")
}

func TestAuthRefused(t *testing.T) {
	ts, _ := authServer(t, router.Options{})
	for _, tc := range []struct {
		opts dialOpts
		want int
	}{
		{dialOpts{}, http.StatusUnauthorized},
		{dialOpts{query: url.Values{"access_token": {"wrong"}}}, http.StatusUnauthorized},
		{dialOpts{protocols: []string{"bearer.wrong"}}, http.StatusUnauthorized},
		{dialOpts{query: url.Values{"access_token": {"banned"}}}, http.StatusForbidden},
	} {
		c, err := ts.tryDial(tc.opts)
		if err == nil || c == nil || c.resp == nil || c.resp.StatusCode != tc.want {
			t.Errorf("%+v: %v, want HTTP %d", tc.opts, err, tc.want)
		}
	}
	ts.dial(dialOpts{query: url.Values{"access_token": {"good"}}}).echo("server still up")
}

func TestOrigins(t *testing.T) {
	ts := newServer(t, router.Options{AllowedOrigins: []string{"https://app.example.com", "https://*.example.org"}}, nil)
	for origin, ok := range map[string]bool{
		"":                             true, // not a browser
		"https://app.example.com":      true,
		"https://APP.example.com":      true,
		"https://x.y.example.org":      true,
		"https://example.org":          false,
		"http://app.example.com":       false,
		"https://evil.com":             false,
		"https://app.example.com:8443": false,
		"null":                         false,
	} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, err := ts.tryDial(dialOpts{header: h})
		if ok && err != nil {
			t.Errorf("origin %q refused: %v", origin, err)
		}
		if !ok && (err == nil || c == nil || c.resp == nil || c.resp.StatusCode != http.StatusForbidden) {
			t.Errorf("origin %q: %v, want 403", origin, err)
		}
	}
	// Same origin is always allowed.
	h := http.Header{"Origin": {"http://" + ts.srv.Listener.Addr().String()}}
	ts.dial(dialOpts{header: h}).echo("same origin")
}

func TestNotAnUpgrade(t *testing.T) {
	ts := newServer(t, router.Options{}, nil)
	resp, err := http.Get(ts.srv.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
