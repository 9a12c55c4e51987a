package server

import (
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/deltasync/syncd/router"
)

// The admin page, /admin: an operator's live view of this instance (its
// loaded documents, connections, presence, commit and delivery rates, one
// document's state and recent operations) with two actions, disconnecting
// a connection and deleting a document. It is off unless an admin key (or
// the API key) is set.
//
// Security, in order of the checks:
//   - the Host allow-list applies as on every route (hosts.go);
//   - signing in posts the key once (a form, POST /admin/login), rate
//     limited per client address; the answer sets a cookie holding a random
//     session token (adminauth.go): HttpOnly, SameSite=Strict, Path=/admin,
//     Secure when served over TLS;
//   - every /admin/api/ route needs that cookie;
//   - every state-changing route (POST) also needs the session's CSRF
//     token in the X-CSRF-Token header and an Origin header naming this
//     server (router.SameOrigin), so another site can neither forge an
//     action nor read the token;
//   - the pages carry a Content-Security-Policy that allows only the
//     page's own script and style, and forbid framing.

// Admin routes.
const (
	adminLoginPattern      = "POST /admin/login"
	adminLogoutPattern     = "POST /admin/logout"
	adminDisconnectPattern = "POST /admin/api/disconnect"
	adminDeletePattern     = "POST /admin/api/delete"

	// maxAdminFormBytes caps the sign-in form's body.
	maxAdminFormBytes = 4 << 10
)

// admin is the admin page's state.
type admin struct {
	s       *Server
	auth    *adminAuth
	series  *rateSeries
	started time.Time
	version string
}

// newAdmin returns the admin page of s, or nil when no key turns it on.
func newAdmin(s *Server) *admin {
	key := s.opts.AdminKey
	if key == "" {
		key = s.opts.APIKey
	}
	if key == "" {
		return nil
	}
	a := &admin{s: s, auth: newAdminAuth(key, s.opts.AdminSessionTTL), started: time.Now(), version: buildVersion()}
	m := s.opts.Metrics
	a.series = newRateSeries(func() (uint64, uint64) {
		return s.engine.Stats().Operations, m.deliveries.Load()
	})
	return a
}

// register adds the admin routes to mux and starts sampling the rates.
func (a *admin) register(mux *http.ServeMux) {
	page := a.pages()
	mux.Handle("GET /admin", page)
	mux.Handle("GET /admin/{$}", page)
	for _, pattern := range []string{"/admin/admin.js", "/admin/admin.css"} {
		mux.Handle("GET "+pattern, withPageHeaders(adminFiles[pattern]))
	}
	mux.Handle(adminLoginPattern, withPageHeaders(http.HandlerFunc(a.login)))
	mux.Handle(adminLogoutPattern, a.action(a.logout))
	mux.Handle("GET /admin/api/overview", a.signedIn(a.overview))
	mux.Handle("GET /admin/api/doc", a.signedIn(a.document))
	mux.Handle(adminDisconnectPattern, a.action(a.disconnect))
	mux.Handle(adminDeletePattern, a.action(a.deleteDoc))
	a.series.start()
}

// close stops the sampling goroutine.
func (a *admin) close() { a.series.close() }

// pages serves /admin: the page itself to a signed-in browser, else the
// sign-in form.
func (a *admin) pages() http.Handler {
	return withPageHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.current(r) != nil {
			adminFiles["/admin/index.html"].ServeHTTP(w, r)
			return
		}
		adminFiles["/admin/login.html"].ServeHTTP(w, r)
	}))
}

// withPageHeaders adds the headers every admin response carries: no
// framing, no script or style from elsewhere, no caching of what is
// signed-in only, no Referer leaving for another site.
func withPageHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		hd.Set("X-Frame-Options", "DENY")
		// same-origin, not no-referrer: under no-referrer a browser sends
		// "Origin: null" with the sign-in form, which the Origin check refuses.
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// current returns the request's live session, or nil.
func (a *admin) current(r *http.Request) *adminSession {
	c, err := r.Cookie(adminCookie)
	if err != nil {
		return nil
	}
	return a.auth.session(c.Value, time.Now())
}

// login checks the posted key; a good one starts a session and goes back
// to the page (303), a wrong one is 401, too many tries 429.
func (a *admin) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// A form of another site must not sign this browser in (to a session
	// the attacker knows nothing of, but still): a browser sends Origin on
	// every POST, so one that does not match is refused. Clients that send
	// none (curl, tests) are not browsers and need the key anyway.
	if r.Header.Get("Origin") != "" && !router.SameOrigin(r, a.s.access.proxies) {
		http.Error(w, "cross-origin sign-in refused", http.StatusForbidden)
		return
	}
	addr := router.ClientAddr(r, a.s.access.proxies)
	if !a.auth.allowTry(addr, time.Now()) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many sign-in attempts; wait a second", http.StatusTooManyRequests)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad sign-in form", http.StatusBadRequest)
		return
	}
	if !a.auth.keyMatches(r.PostForm.Get("key")) {
		a.s.opts.Logger.Warn("admin: wrong key", "addr", addr)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write(loginPageWith("Wrong key."))
		return
	}
	token, _ := a.auth.newSession(time.Now())
	http.SetCookie(w, &http.Cookie{
		Name: adminCookie, Value: token, Path: "/admin",
		MaxAge: int(a.s.opts.AdminSessionTTL / time.Second), HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: router.RequestScheme(r, a.s.access.proxies) == "https",
	})
	a.s.opts.Logger.Info("admin: signed in", "addr", addr)
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

// logout ends the session and clears the cookie.
func (a *admin) logout(w http.ResponseWriter, r *http.Request, _ *adminSession) {
	if c, err := r.Cookie(adminCookie); err == nil {
		a.auth.endSession(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: "", Path: "/admin", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// signedIn guards a read: the session cookie is required.
func (a *admin) signedIn(h func(http.ResponseWriter, *http.Request, *adminSession)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		sess := a.current(r)
		if sess == nil {
			adminError(w, http.StatusUnauthorized, "sign in first")
			return
		}
		h(w, r, sess)
	})
}

// action guards a change: the session cookie, its CSRF token in
// X-CSRF-Token, and a same-origin Origin header.
func (a *admin) action(h func(http.ResponseWriter, *http.Request, *adminSession)) http.Handler {
	return a.signedIn(func(w http.ResponseWriter, r *http.Request, sess *adminSession) {
		if !sess.csrfMatches(r.Header.Get("X-CSRF-Token")) {
			adminError(w, http.StatusForbidden, "missing or wrong X-CSRF-Token")
			return
		}
		if !router.SameOrigin(r, a.s.access.proxies) {
			adminError(w, http.StatusForbidden, "the Origin header must name this server")
			return
		}
		h(w, r, sess)
	})
}

// adminError answers {"error": msg}.
func adminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// loginPageWith is the sign-in page with a message in its placeholder.
func loginPageWith(msg string) []byte {
	page := string(adminFiles["/admin/login.html"].body)
	return []byte(strings.Replace(page, "<!--message-->", `<p class="error">`+msg+`</p>`, 1))
}

// buildVersion is the binary's module version and VCS revision, as far as
// the build recorded them.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	if v == "" {
		v = "unknown"
	}
	return v + ", " + info.GoVersion
}
