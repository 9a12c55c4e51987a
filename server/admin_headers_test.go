package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/deltasync/syncd/server"
)

// TestAdminWrongKeyPageCarriesPageHeaders: a wrong key is answered with
// the sign-in page again (HTML, a password form, "Wrong key."), and like
// every admin page it must forbid framing and inline script
// (withPageHeaders: "the headers every admin response carries").
func TestAdminWrongKeyPageCarriesPageHeaders(t *testing.T) {
	ev := newAdminEnv(t, server.Options{})
	b := newAdminBrowser(t, ev)
	form := strings.NewReader(url.Values{"key": {"not-the-key"}}.Encode())
	status, body, resp := b.req("POST", "/admin/login", "", form, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if status != http.StatusUnauthorized || !strings.Contains(string(body), "<form") {
		t.Fatalf("wrong key: HTTP %d %q, want 401 and the sign-in form", status, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("the wrong-key sign-in page has Content-Security-Policy %q", csp)
	}
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "DENY" {
		t.Errorf("the wrong-key sign-in page has X-Frame-Options %q, want DENY", xfo)
	}
}
