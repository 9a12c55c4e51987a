package router_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/deltasync/syncd/router"
)

// The Host allow-list, against DNS rebinding.

func mustHosts(t *testing.T, list ...string) router.HostList {
	t.Helper()
	h, err := router.ParseHostList(list)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHostListAllows(t *testing.T) {
	h := mustHosts(t, "sync.example.com", "admin.example.com:8443", "*.apps.example.org", "10.0.0.0/8", "[::1]", "192.0.2.1:8080")
	for _, tc := range []struct {
		host, scheme string
		want         bool
	}{
		{"sync.example.com", "https", true},
		{"sync.example.com:9999", "http", true}, // a name without a port allows any port
		{"SYNC.Example.COM.", "https", true},
		{"evil.com", "http", false},
		{"sync.example.com.evil.com", "http", false},
		{"xsync.example.com", "http", false},
		{"admin.example.com:8443", "https", true},
		{"admin.example.com", "https", false}, // means :443
		{"admin.example.com:443", "https", false},
		{"a.apps.example.org", "https", true},
		{"a.b.apps.example.org:1", "https", true},
		{"apps.example.org", "https", false}, // subdomains only
		{"10.1.2.3:9090", "http", true},
		{"11.1.2.3", "http", false},
		{"[::1]:8080", "http", true},
		{"[0:0::1]", "http", true},
		{"::1", "http", true},
		{"192.0.2.1:8080", "http", true},
		{"192.0.2.1", "http", false},
		{"", "http", false},
		{"10.example.com", "http", false},
	} {
		if got := h.Allows(tc.host, tc.scheme); got != tc.want {
			t.Errorf("Allows(%q, %s) = %v, want %v", tc.host, tc.scheme, got, tc.want)
		}
	}
	if !mustHosts(t, "*").Allows("anything.at.all:1", "http") {
		t.Error(`"*" refused a host`)
	}
	if h := mustHosts(t, " ", ""); h.IsSet() {
		t.Error("a list of blanks is not the default")
	}
	for _, bad := range []string{"example.com:http", "*.", "sync.*.example.com", "10.0.0.0/40", "a b", "user@example.com", "[::1"} {
		if _, err := router.ParseHostList([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestAllowedHostDefault: without a list, a connection made to a loopback
// address may name only localhost, 127.0.0.1 or [::1]; other connections
// any host.
func TestAllowedHostDefault(t *testing.T) {
	trusted := mustProxies(t, "127.0.0.1")
	for _, tc := range []struct {
		local, host, fwdHost string
		want                 bool
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080", "", true},
		{"127.0.0.1:8080", "localhost:8080", "", true},
		{"127.0.0.1:8080", "LOCALHOST", "", true},
		{"[::1]:8080", "[::1]:8080", "", true},
		{"127.0.0.1:8080", "evil.com:8080", "", false},         // DNS rebinding
		{"127.0.0.1:8080", "127.0.0.1.nip.io:8080", "", false}, // a name that resolves to loopback
		{"[::1]:8080", "evil.com", "", false},
		{"127.0.0.1:8080", "127.0.0.1:8080", "evil.com", false}, // the trusted proxy's forwarded host counts
		{"192.0.2.10:8080", "evil.com:8080", "", true},          // not loopback: any host without a list
		{"", "evil.com", "", true},                              // not from a TCP listener
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:5555"
		r.Host = tc.host
		if tc.fwdHost != "" {
			r.Header.Set("X-Forwarded-Host", tc.fwdHost)
		}
		r = withLocalAddr(r, tc.local)
		if got := router.AllowedHost(r, router.HostList{}, trusted); got != tc.want {
			t.Errorf("local %s Host %s (forwarded %q): %v, want %v", tc.local, tc.host, tc.fwdHost, got, tc.want)
		}
	}
	// A configured list replaces the default everywhere.
	h := mustHosts(t, "sync.example.com")
	r := withLocalAddr(httptest.NewRequest("GET", "http://127.0.0.1:8080/", nil), "127.0.0.1:8080")
	if router.AllowedHost(r, h, nil) {
		t.Error("127.0.0.1 allowed though the list names only sync.example.com")
	}
}

func TestRefuseHostBody(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "evil.com:8080"
	router.RefuseHost(w, r, nil)
	body, _ := io.ReadAll(w.Result().Body)
	if w.Code != http.StatusMisdirectedRequest || !strings.Contains(string(body), `"evil.com:8080"`) {
		t.Fatalf("HTTP %d %q", w.Code, body)
	}
	r.Host = strings.Repeat("x", 5000)
	w = httptest.NewRecorder()
	router.RefuseHost(w, r, nil)
	if w.Body.Len() > 300 {
		t.Fatalf("body of %d bytes echoes a long Host", w.Body.Len())
	}
}
