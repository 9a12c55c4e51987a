package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// The admin page's API (server/admin.go) against a real in-process server
// over real sockets: signing in, the cookie, CSRF, and the two actions.

const adminKey = "admin-key-for-tests"

// adminBrowser is an HTTP client that keeps the admin cookie, as a browser
// would, and sends the page's Origin.
type adminBrowser struct {
	t      testing.TB
	ev     *env
	client *http.Client
	csrf   string
}

func newAdminBrowser(t testing.TB, ev *env) *adminBrowser {
	return &adminBrowser{t: t, ev: ev, client: &http.Client{
		Jar:     newJar(t),
		Timeout: 10 * time.Second,
		// Keep the 303 of a sign-in visible.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func newJar(t testing.TB) http.CookieJar {
	jar, err := newCookieJar()
	if err != nil {
		t.Fatal(err)
	}
	return jar
}

// req sends one request with the page's Origin (unless origin is "-") and
// the CSRF token (if set), and returns the status and body.
func (b *adminBrowser) req(method, path, origin string, body io.Reader, hdr http.Header) (int, []byte, *http.Response) {
	b.t.Helper()
	r, err := http.NewRequest(method, b.ev.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header[k] = v
	}
	switch origin {
	case "-":
	case "":
		r.Header.Set("Origin", b.ev.base)
	default:
		r.Header.Set("Origin", origin)
	}
	resp, err := b.client.Do(r)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp
}

// signIn posts key with the sign-in form and returns the status.
func (b *adminBrowser) signIn(key string) (int, *http.Response) {
	b.t.Helper()
	form := url.Values{"key": {key}}.Encode()
	status, _, resp := b.req("POST", "/admin/login", "", strings.NewReader(form), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	return status, resp
}

// overview reads /admin/api/overview and keeps its CSRF token.
func (b *adminBrowser) overview() adminOverview {
	b.t.Helper()
	status, body, _ := b.req("GET", "/admin/api/overview", "-", nil, nil)
	if status != http.StatusOK {
		b.t.Fatalf("overview: HTTP %d %s", status, body)
	}
	var o adminOverview
	if err := json.Unmarshal(body, &o); err != nil {
		b.t.Fatal(err)
	}
	b.csrf = o.CSRF
	return o
}

// action POSTs path with the CSRF token and the page's Origin.
func (b *adminBrowser) action(path string) (int, []byte) {
	b.t.Helper()
	status, body, _ := b.req("POST", path, "", nil, http.Header{"X-Csrf-Token": {b.csrf}})
	return status, body
}

type adminOverview struct {
	Instance struct {
		Address, Version, Store, Note string
		Started                       int64
	}
	CSRF      string
	Documents []struct {
		ID                string
		Rev, Durable      uint64
		Size, Subscribers int
		Present           []string
		RingLen, RingCap  int
		LastCommit        int64
		Policy            string
	}
	DocumentsTotal int
	Connections    []struct {
		ClientID, User, Address string
		Documents, Topics       []string
		QueuedBytes             int
		Opened                  int64
	}
	Series struct {
		IntervalMs          int64
		Commits, Deliveries []uint32
	}
}

func newAdminEnv(t *testing.T, so server.Options) *env {
	if so.AdminKey == "" {
		so.AdminKey = adminKey
	}
	so.AdminStore = "memory (test)"
	return newEnv(t, syncd.Options{}, so)
}

func TestAdminSignIn(t *testing.T) {
	ev := newAdminEnv(t, server.Options{})
	b := newAdminBrowser(t, ev)

	// Signed out, /admin is the sign-in form, and the API refuses.
	status, body, resp := b.req("GET", "/admin", "-", nil, nil)
	if status != http.StatusOK || !strings.Contains(string(body), `action="/admin/login"`) {
		t.Fatalf("GET /admin signed out: HTTP %d, want the sign-in form:\n%s", status, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if status, _, _ := b.req("GET", "/admin/api/overview", "-", nil, nil); status != http.StatusUnauthorized {
		t.Fatalf("overview without the cookie: HTTP %d, want 401", status)
	}

	// The right key: a 303 to /admin and the session cookie.
	status, resp = b.signIn(adminKey)
	if status != http.StatusSeeOther || resp.Header.Get("Location") != "/admin" {
		t.Fatalf("sign-in: HTTP %d to %q, want 303 to /admin", status, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("sign-in set %d cookies, want 1", len(cookies))
	}
	c := cookies[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin" || c.Secure {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/admin, not Secure over http", c)
	}
	if strings.Contains(c.Value, adminKey) || len(c.Value) < 32 {
		t.Errorf("cookie value %q: want a random token, not the key", c.Value)
	}

	// Signed in: the page and the API.
	status, body, _ = b.req("GET", "/admin", "-", nil, nil)
	if status != http.StatusOK || !strings.Contains(string(body), `src="/admin/admin.js"`) {
		t.Fatalf("GET /admin signed in: HTTP %d, want the page", status)
	}
	o := b.overview()
	if o.CSRF == "" || o.Instance.Address == "" || o.Instance.Store != "memory (test)" || !strings.Contains(o.Instance.Note, "this instance only") || o.Instance.Started == 0 {
		t.Errorf("overview instance %+v, csrf %q", o.Instance, o.CSRF)
	}

	// A forged or stale cookie is refused.
	other := newAdminBrowser(t, ev)
	u, _ := url.Parse(ev.base + "/admin")
	other.client.Jar.SetCookies(u, []*http.Cookie{{Name: "syncd_admin", Value: strings.Repeat("0", 64)}})
	if status, _, _ := other.req("GET", "/admin/api/overview", "-", nil, nil); status != http.StatusUnauthorized {
		t.Fatalf("overview with a made-up cookie: HTTP %d, want 401", status)
	}

	// Signing out ends the session (an action: CSRF needed).
	if status, _ := b.action("/admin/logout"); status != http.StatusNoContent {
		t.Fatalf("sign-out: HTTP %d", status)
	}
	b.client.Jar.SetCookies(u, []*http.Cookie{c}) // even a kept copy of the cookie
	if status, _, _ := b.req("GET", "/admin/api/overview", "-", nil, nil); status != http.StatusUnauthorized {
		t.Fatalf("overview after signing out: HTTP %d, want 401", status)
	}
}

func TestAdminWrongKeyRefusedAndRateLimited(t *testing.T) {
	ev := newAdminEnv(t, server.Options{})
	b := newAdminBrowser(t, ev)
	status, resp := b.signIn("not-the-key")
	if status != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong key: HTTP %d with %d cookies, want 401 and none", status, len(resp.Cookies()))
	}
	// A burst of tries from one address is cut off within a few tries,
	// the right key included, until the bucket refills.
	limited := false
	for i := 0; i < 20 && !limited; i++ {
		status, _ := b.signIn("guess")
		limited = status == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("20 wrong keys in a row were never rate-limited")
	}
	if status, _ := b.signIn(adminKey); status != http.StatusTooManyRequests {
		t.Fatalf("the right key while rate-limited: HTTP %d, want 429", status)
	}
	// A second later (2 tries a second), it is let in.
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, _ := b.signIn(adminKey)
		if status == http.StatusSeeOther {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the right key after waiting: HTTP %d", status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A sign-in form posted from another site is refused.
	form := strings.NewReader(url.Values{"key": {adminKey}}.Encode())
	if status, _, _ := b.req("POST", "/admin/login", "http://evil.example", form, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}); status != http.StatusForbidden {
		t.Fatalf("cross-origin sign-in: HTTP %d, want 403", status)
	}
}

func TestAdminActionsNeedCSRF(t *testing.T) {
	ev := newAdminEnv(t, server.Options{})
	c := ev.dial("")
	c.join("d/keep")
	b := newAdminBrowser(t, ev)
	if status, _ := b.signIn(adminKey); status != http.StatusSeeOther {
		t.Fatalf("sign-in: HTTP %d", status)
	}
	b.overview()
	disconnect := "/admin/api/disconnect?client=" + url.QueryEscape(c.id)
	for _, tc := range []struct {
		name, origin string
		hdr          http.Header
	}{
		{"no token", "", nil},
		{"a wrong token", "", http.Header{"X-Csrf-Token": {strings.Repeat("a", 64)}}},
		{"no Origin", "-", http.Header{"X-Csrf-Token": {b.csrf}}},
		{"another Origin", "http://evil.example", http.Header{"X-Csrf-Token": {b.csrf}}},
	} {
		if status, body, _ := b.req("POST", disconnect, tc.origin, nil, tc.hdr); status != http.StatusForbidden {
			t.Errorf("disconnect with %s: HTTP %d %s, want 403", tc.name, status, body)
		}
		if status, _, _ := b.req("POST", "/admin/api/delete?id=d/keep", tc.origin, nil, tc.hdr); status != http.StatusForbidden {
			t.Errorf("delete with %s: HTTP %d, want 403", tc.name, status)
		}
	}
	// Without the cookie, the token alone is nothing.
	anon := newAdminBrowser(t, ev)
	anon.csrf = b.csrf
	if status, _ := anon.action(disconnect); status != http.StatusUnauthorized {
		t.Errorf("disconnect without the cookie: HTTP %d, want 401", status)
	}
	// The connection and the document are untouched.
	c.edit("d/keep", map[string]any{"still": true})
	if _, err := ev.engine.State(context.Background(), "d/keep"); err != nil {
		t.Fatal(err)
	}
}

func TestAdminOverviewDisconnectAndDelete(t *testing.T) {
	ev := newAdminEnv(t, server.Options{JWTSecret: []byte(jwtSecret)})
	ada := ev.dialWith(dialOpts{token: token(t, jwtSecret, "ada", nil, time.Hour)})
	ada.join("notes/1")
	ada.send(protocol.TypePresenceSet, map[string]any{"doc": "notes/1", "state": map[string]any{"name": "Ada"}})
	ada.edit("notes/1", map[string]any{"title": "hello"})
	bob := ev.dialWith(dialOpts{token: token(t, jwtSecret, "bob", nil, time.Hour)})
	bob.join("notes/1")

	b := newAdminBrowser(t, ev)
	if status, _ := b.signIn(adminKey); status != http.StatusSeeOther {
		t.Fatalf("sign-in: HTTP %d", status)
	}
	var o adminOverview
	deadline := time.Now().Add(5 * time.Second)
	for { // presence arrives on its own
		o = b.overview()
		if len(o.Documents) == 1 && len(o.Documents[0].Present) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(o.Documents) != 1 {
		t.Fatalf("documents %+v, want notes/1", o.Documents)
	}
	d := o.Documents[0]
	if d.ID != "notes/1" || d.Rev != 1 || d.Subscribers != 2 || len(d.Present) != 1 || d.Present[0] != ada.id || d.RingLen != 1 || d.LastCommit == 0 || d.Policy != "rebase" {
		t.Errorf("document %+v", d)
	}
	users := map[string]string{}
	for _, c := range o.Connections {
		users[c.ClientID] = c.User
		if c.Address != "127.0.0.1" || len(c.Documents) != 1 || c.Documents[0] != "notes/1" || c.Opened == 0 {
			t.Errorf("connection %+v", c)
		}
	}
	if len(o.Connections) != 2 || users[ada.id] != "ada" || users[bob.id] != "bob" {
		t.Errorf("connections %+v, want ada's and bob's", o.Connections)
	}

	// One document: state, recent operations with their authors.
	status, body, _ := b.req("GET", "/admin/api/doc?id=notes/1", "-", nil, nil)
	if status != http.StatusOK {
		t.Fatalf("doc: HTTP %d %s", status, body)
	}
	var doc struct {
		Rev   uint64
		State map[string]any
		Ops   []struct {
			Rev                    uint64
			ClientID, Author, User string
		}
		Presence []struct{ ClientID string }
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Rev != 1 || doc.State["title"] != "hello" || len(doc.Ops) != 1 || doc.Ops[0].ClientID != ada.id || doc.Ops[0].Author != ada.author || doc.Ops[0].User != "ada" || len(doc.Presence) != 1 {
		t.Errorf("doc view %s", body)
	}
	if status, _, _ := b.req("GET", "/admin/api/doc?id=no/such", "-", nil, nil); status != http.StatusNotFound {
		t.Errorf("doc view of a missing document: HTTP %d, want 404", status)
	}

	// Disconnect: bob's connection closes with 1000 (do not reconnect).
	if status, body := b.action("/admin/api/disconnect?client=" + url.QueryEscape(bob.id)); status != http.StatusNoContent {
		t.Fatalf("disconnect: HTTP %d %s", status, body)
	}
	if code := bob.closeCode(); code != protocol.CloseNormal {
		t.Fatalf("bob closed with %d, want %d", code, protocol.CloseNormal)
	}
	if status, _ := b.action("/admin/api/disconnect?client=nobody"); status != http.StatusNotFound {
		t.Errorf("disconnect of an unknown client: HTTP %d, want 404", status)
	}

	// Delete: ada still subscribes, so the document lives on for her,
	// empty under a new epoch (Engine.Delete), and she is told.
	before, err := ev.engine.State(context.Background(), "notes/1")
	if err != nil {
		t.Fatal(err)
	}
	if status, body := b.action("/admin/api/delete?id=notes/1"); status != http.StatusNoContent {
		t.Fatalf("delete: HTTP %d %s", status, body)
	}
	after, err := ev.engine.State(context.Background(), "notes/1")
	if err != nil || after.Epoch == before.Epoch || after.Rev != 0 || string(after.State) != "{}" {
		t.Fatalf("after the delete: %+v, %v; want an empty document under a new epoch", after, err)
	}
	ada.next(protocol.TypeRevisionGap)
	if status, _ := b.action("/admin/api/delete?id=no/such"); status != http.StatusNotFound {
		t.Errorf("delete of a missing document: HTTP %d, want 404", status)
	}
}

// Off without a key; the Host allow-list applies as everywhere.
func TestAdminOffAndHostChecked(t *testing.T) {
	off := newEnv(t, syncd.Options{}, server.Options{})
	for _, path := range []string{"/admin", "/admin/api/overview", "/admin/admin.js"} {
		if status, _, _ := off.do("GET", path, "", nil); status != http.StatusNotFound {
			t.Errorf("GET %s without a key: HTTP %d, want 404", path, status)
		}
	}
	if status, _, _ := off.do("POST", "/admin/login", "", nil); status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		t.Errorf("POST /admin/login without a key: HTTP %d, want 404", status)
	}

	// The API key signs in when there is no admin key.
	api := newEnv(t, syncd.Options{}, server.Options{APIKey: "the-api-key"})
	if status, _ := newAdminBrowser(t, api).signIn("the-api-key"); status != http.StatusSeeOther {
		t.Errorf("sign-in with the API key: HTTP %d, want 303", status)
	}

	ev := newAdminEnv(t, server.Options{})
	r, _ := http.NewRequest("GET", ev.base+"/admin", nil)
	r.Host = "evil.example"
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET /admin for another host: HTTP %d, want 421", resp.StatusCode)
	}
}

func newCookieJar() (http.CookieJar, error) { return cookiejar.New(nil) }

// Over TLS the session cookie is Secure, and an action's Origin must be the
// https origin.
func TestAdminCookieSecureOverTLS(t *testing.T) {
	ev := newAdminEnv(t, server.Options{})
	ts := httptest.NewTLSServer(ev.server.Handler())
	defer ts.Close()
	client := ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r, _ := http.NewRequest("POST", ts.URL+"/admin/login", strings.NewReader(url.Values{"key": {adminKey}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", ts.URL)
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
		t.Fatalf("sign-in over TLS: HTTP %d, cookies %v; want 303 and one Secure cookie", resp.StatusCode, resp.Cookies())
	}
	// The plain-http origin of the same host is another origin.
	cookie := resp.Cookies()[0]
	get, _ := http.NewRequest("GET", ts.URL+"/admin/api/overview", nil)
	get.AddCookie(cookie)
	resp, err = client.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	var o adminOverview
	json.NewDecoder(resp.Body).Decode(&o)
	resp.Body.Close()
	// In this order: the sign-out that succeeds ends the session.
	for _, try := range []struct {
		origin string
		want   int
	}{{"http" + strings.TrimPrefix(ts.URL, "https"), http.StatusForbidden}, {ts.URL, http.StatusNoContent}} {
		origin, want := try.origin, try.want
		post, _ := http.NewRequest("POST", ts.URL+"/admin/logout", nil)
		post.AddCookie(cookie)
		post.Header.Set("X-CSRF-Token", o.CSRF)
		post.Header.Set("Origin", origin)
		resp, err := client.Do(post)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("sign-out with Origin %s: HTTP %d, want %d", origin, resp.StatusCode, want)
		}
	}
}
