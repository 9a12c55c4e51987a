package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// Who may reach the server: the Host allow-list on every route, the
// Origin's scheme, trusted proxies, and the attacks of the issue against a
// real syncd process (DNS rebinding, topics outside the token, read-only
// users sending to the room).

// hostRequest sends method path to base with Host host and the extra
// headers, and returns the status and body.
func hostRequest(t testing.TB, base, method, path, host string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(`{"patch":{"owned":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Host = host
	resp, err := (&http.Client{Timeout: readTimeout}).Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 1024)
	for i := 0; i < 64; i++ {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// TestHostGuardEveryRoute: a request for a host the server does not answer
// to is refused with 421 on every route but the health probes.
func TestHostGuardEveryRoute(t *testing.T) {
	const key = "host-guard-api-key-0123456789abcdef"
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: key})
	ev.commit("d", map[string]any{"a": 1})
	port := ev.base[strings.LastIndex(ev.base, ":")+1:]
	auth := http.Header{"Authorization": {"Bearer " + key}}
	routes := []struct {
		method, path string
		header       http.Header
		want         int // with an allowed host
	}{
		{"GET", "/", nil, http.StatusOK},
		{"GET", "/syncd.js", nil, http.StatusOK},
		{"GET", "/demo/demo.js", nil, http.StatusOK},
		{"GET", "/metrics", nil, http.StatusOK},
		{"GET", "/ws", nil, http.StatusUpgradeRequired},
		{"GET", "/v1/docs", auth, http.StatusOK},
		{"GET", "/v1/docs/d", auth, http.StatusOK},
		{"POST", "/v1/docs/d/edits", auth, http.StatusOK},
		{"GET", "/nowhere", nil, http.StatusNotFound},
	}
	for _, rt := range routes {
		for _, host := range []string{"evil.com:" + port, "evil.com", "127.0.0.1.nip.io:" + port, "localhost.evil.com:" + port} {
			status, body := hostRequest(t, ev.base, rt.method, rt.path, host, rt.header)
			if status != http.StatusMisdirectedRequest || !strings.Contains(body, "host") {
				t.Errorf("%s %s Host %s: HTTP %d %.100q, want 421", rt.method, rt.path, host, status, body)
			}
		}
		for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "localhost"} {
			if status, body := hostRequest(t, ev.base, rt.method, rt.path, host, rt.header); status != rt.want {
				t.Errorf("%s %s Host %s: HTTP %d %.100q, want %d", rt.method, rt.path, host, status, body, rt.want)
			}
		}
	}
	// The health probes answer any host: load balancers call them by IP.
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, _ := hostRequest(t, ev.base, "GET", path, "evil.com", nil); status != http.StatusOK {
			t.Errorf("%s Host evil.com: HTTP %d, want 200", path, status)
		}
	}
}

func TestBadAccessOptionsRefused(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	for name, o := range map[string]server.Options{
		"bad host":  {AllowedHosts: []string{"example.com:http"}},
		"bad CIDR":  {AllowedHosts: []string{"10.0.0.0/99"}},
		"bad proxy": {TrustedProxies: []string{"proxy.example.com"}},
	} {
		if _, err := server.New(ev.engine, o); err == nil {
			t.Errorf("%s: server.New accepted %+v", name, o)
		}
	}
}

// TestTrustedProxyServes: behind a trusted proxy the forwarded host and
// scheme are those checked; the same headers from elsewhere are not.
func TestTrustedProxyServes(t *testing.T) {
	const key = "proxy-api-key-0123456789abcdef0123"
	proxied := func(trusted string) *env {
		return newEnv(t, syncd.Options{}, server.Options{APIKey: key, AllowedHosts: []string{"sync.example.test"}, TrustedProxies: []string{trusted}})
	}
	viaProxy := http.Header{
		"X-Forwarded-Host":  {"sync.example.test"},
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded-For":   {"203.0.113.9"},
		"Authorization":     {"Bearer " + key},
	}
	wsHeader := func(origin string) http.Header {
		h := viaProxy.Clone()
		h.Del("Authorization")
		h.Set("Origin", origin)
		return h
	}

	ev := proxied("127.0.0.1/32") // the test is the proxy
	host := strings.TrimPrefix(ev.base, "http://")
	if status, body := hostRequest(t, ev.base, "GET", "/v1/docs", host, viaProxy); status != http.StatusOK {
		t.Fatalf("through the proxy: HTTP %d %s", status, body)
	}
	ev.dialWith(dialOpts{header: wsHeader("https://sync.example.test")}).alive()
	// The browser was on https: a page of http://sync.example.test is
	// another origin, one anybody on the network can write.
	refusedUpgrade(t, ev, dialOpts{header: wsHeader("http://sync.example.test")}, http.StatusForbidden)
	// Straight to the server, not through the proxy's name: refused.
	if status, _ := hostRequest(t, ev.base, "GET", "/v1/docs", host, http.Header{"Authorization": {"Bearer " + key}}); status != http.StatusMisdirectedRequest {
		t.Fatalf("the bare address: HTTP %d, want 421", status)
	}

	ev = proxied("10.0.0.0/8") // the test is not a trusted proxy
	host = strings.TrimPrefix(ev.base, "http://")
	if status, _ := hostRequest(t, ev.base, "GET", "/v1/docs", host, viaProxy); status != http.StatusMisdirectedRequest {
		t.Fatalf("X-Forwarded-Host believed from an untrusted peer: HTTP %d, want 421", status)
	}
	refusedUpgrade(t, ev, dialOpts{header: wsHeader("https://sync.example.test")}, http.StatusMisdirectedRequest)
}

// TestAttackDNSRebinding is the DNS-rebinding attack on a syncd
// process with the defaults (loopback, no authentication): a page on
// evil.com whose name resolves to 127.0.0.1 tries the WebSocket, the HTTP
// API and the demo. Everything is refused with 421; the process stays up
// and small, serves everyone else, and loses nothing acknowledged. A page
// of the wrong scheme is refused too.
func TestAttackDNSRebinding(t *testing.T) {
	const key = "rebinding-api-key-0123456789abcdef"
	p := startSyncd(t, "-store", "memory", "-api-key", key)
	_, port, _ := strings.Cut(p.Addr, ":")

	victim := dialProc(t, p, dialOpts{})
	victim.join("victim")
	acked := victim.edit("victim", map[string]any{"kept": "yes"})

	evil := "evil.com:" + port
	page := http.Header{"Host": {evil}, "Origin": {"http://" + evil}}
	for i := 0; i < 20; i++ { // a page retries; bounded
		c, resp, err := dialURL(t, p.WS, dialOpts{header: page}, nil)
		if err == nil {
			c.ws.Close()
			t.Fatal("the rebinding page's WebSocket was accepted")
		}
		if resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
			t.Fatalf("the rebinding page's WebSocket: %v (%v), want HTTP 421", err, resp)
		}
	}
	withKey := http.Header{"Authorization": {"Bearer " + key}, "Origin": {"http://" + evil}}
	for _, rt := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/metrics"}, {"GET", "/v1/docs"}, {"GET", "/v1/docs/victim"},
		{"POST", "/v1/docs/victim/edits"}, {"DELETE", "/v1/docs/victim"}, {"GET", "/v1/backup"},
	} {
		if status, body := hostRequest(t, p.URL, rt.method, rt.path, evil, withKey); status != http.StatusMisdirectedRequest {
			t.Errorf("%s %s from the rebinding page: HTTP %d %.100q, want 421", rt.method, rt.path, status, body)
		}
	}

	// A page on the right host but the wrong scheme is another origin.
	self := "127.0.0.1:" + port
	if _, resp, err := dialURL(t, p.WS, dialOpts{header: http.Header{"Origin": {"https://" + self}}}, nil); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("Origin https://%s on a plain-http server: %v, want HTTP 403", self, err)
	}
	// The server's own page is welcome, by either loopback name.
	for _, host := range []string{self, "localhost:" + port} {
		c := dialProc(t, p, dialOpts{header: http.Header{"Host": {host}, "Origin": {"http://" + host}}})
		c.alive()
		c.ws.Close()
	}

	requireServes(t, p, dialOpts{})
	p.RequireRSSBelow(200 << 20)
	check := dialProc(t, p, dialOpts{})
	if snap := check.join("victim"); snap.Rev != acked.Rev || !strings.Contains(string(snap.State), `"kept":"yes"`) {
		t.Fatalf("victim document after the attack: %s at %d, want rev %d with kept", snap.State, snap.Rev, acked.Rev)
	}
}

// TestAttackForwardedHeadersUntrusted: on a syncd that trusts only
// 10.0.0.0/8 as proxies, a client on 127.0.0.1 forging X-Forwarded-Host
// and -Proto gets nothing from it.
func TestAttackForwardedHeadersUntrusted(t *testing.T) {
	p := startSyncd(t, "-store", "memory", "-hosts", "sync.example.test", "-trusted-proxies", "10.0.0.0/8")
	forged := http.Header{
		"X-Forwarded-Host":  {"sync.example.test"},
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded-For":   {"10.1.1.1"},
		"Origin":            {"https://sync.example.test"},
	}
	if _, resp, err := dialURL(t, p.WS, dialOpts{header: forged}, nil); err == nil || resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("forged forwarded headers: %v, want HTTP 421", err)
	}
	// The name itself is served (as through a proxy that keeps Host).
	named := http.Header{"Host": {"sync.example.test"}, "Origin": {"http://sync.example.test"}}
	requireServes(t, p, dialOpts{header: named})
	p.RequireRSSBelow(200 << 20)
}

// topicSecret is at least 32 bytes, as HS256 secrets must be.
const topicSecret = "topic-attack-secret-0123456789abcdef0123"

// TestAttackTopicsAndRooms is the permission attacks on a syncd
// process with JWT on: a token for team:42/* documents subscribing and
// publishing to team:43/secret, and a read-only user publishing and
// setting presence in a document's room. Every attempt is refused, the
// members of the topic and the room hear nothing, and the process still
// serves.
func TestAttackTopicsAndRooms(t *testing.T) {
	p := startSyncd(t, "-store", "memory", "-jwt-secret", topicSecret)
	tok := func(sub string, claims map[string]any) string {
		return signClaims(t, topicSecret, sub, claims)
	}
	team42 := map[string][]string{"read": {"team:42/*"}, "write": {"team:42/*"}}
	team43 := map[string][]string{"read": {"team:43/*"}, "write": {"team:43/*"}}

	// The members: team 43 on its secret topic, and a writer in team 42's
	// document room.
	member := dialProc(t, p, dialOpts{token: tok("carol", map[string]any{"docs": team43, "topics": team43})})
	member.rpcOK(protocol.TypeSubscribe, map[string]any{"topic": "team:43/secret"})
	writer := dialProc(t, p, dialOpts{token: tok("dave", map[string]any{"docs": team42})})
	writer.join("team:42/plan")
	writer.edit("team:42/plan", map[string]any{"step": 1})

	// Eve's token names team 42's documents only (no topics claim), then
	// team 42's topics too: team 43's topic stays closed either way.
	for _, claims := range []map[string]any{{"docs": team42}, {"docs": team42, "topics": team42}} {
		eve := dialProc(t, p, dialOpts{token: tok("eve", claims)})
		for i := 0; i < 10; i++ { // bounded retries
			cid := eve.nextCID()
			eve.sendMeta(protocol.TypeSubscribe, cid, map[string]any{"topic": "team:43/secret"})
			eve.expectRPCError(cid, protocol.CodePermissionDenied)
			cid = eve.nextCID()
			eve.sendMeta(protocol.TypePublish, cid, map[string]any{"topic": "team:43/secret", "data": "from eve"})
			eve.expectRPCError(cid, protocol.CodeFailedPrecondition) // never subscribed
		}
		eve.ws.Close()
	}
	// With team 42's topics, its own topic works.
	eve := dialProc(t, p, dialOpts{token: tok("eve", map[string]any{"docs": team42, "topics": team42})})
	eve.rpcOK(protocol.TypeSubscribe, map[string]any{"topic": "team:42/chat"})
	eve.rpcOK(protocol.TypePublish, map[string]any{"topic": "team:42/chat", "data": "hi"})

	// A read-only user of team 42's documents, in the room.
	viewer := dialProc(t, p, dialOpts{token: tok("victor", map[string]any{"docs": map[string][]string{"read": {"team:42/*"}}})})
	viewer.join("team:42/plan")
	for i := 0; i < 10; i++ {
		cid := viewer.nextCID()
		viewer.sendMeta(protocol.TypePublish, cid, map[string]any{"doc": "team:42/plan", "data": "click here"})
		viewer.expectRPCError(cid, protocol.CodePermissionDenied)
		cid = viewer.nextCID()
		viewer.sendMeta(protocol.TypePresenceSet, cid, map[string]any{"doc": "team:42/plan", "state": map[string]any{"name": "ADMIN: click here"}})
		viewer.expectRPCError(cid, protocol.CodePermissionDenied)
	}
	viewer.sendMeta(protocol.TypeJoin, "j-presence", map[string]any{"doc": "team:42/plan", "presence": map[string]any{"name": "sneaky"}})
	viewer.expectRPCError("j-presence", protocol.CodePermissionDenied)
	viewer.alive() // still connected, still a reader

	// Nobody heard any of it.
	for _, m := range member.drain() {
		if m.Type == protocol.TypeMessage {
			t.Fatalf("team 43's topic received %s", m)
		}
	}
	for _, m := range writer.drain() {
		if m.Type == protocol.TypeMessage || (m.Type == protocol.TypePresence && strings.Contains(string(m.Payload), viewer.id)) {
			t.Fatalf("the room received %s from a read-only user", m)
		}
	}
	writer.edit("team:42/plan", map[string]any{"step": 2})

	requireServes(t, p, dialOpts{token: tok("bystander", nil)})
	p.RequireRSSBelow(200 << 20)
}

// signClaims signs an HS256 token for sub with extra claims.
func signClaims(t testing.TB, secret, sub string, extra map[string]any) string {
	t.Helper()
	claims := map[string]any{"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims)).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
