package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"time"

	"github.com/deltasync/syncd/client/browser"
)

// The browser client, served from the binary at stable paths so that a page
// can load it with `import { SyncClient } from "/syncd.js"`. The paths do not
// change between versions, so responses carry a strong ETag of the content
// and `Cache-Control: no-cache`: a browser keeps its copy and revalidates it
// (a 304 when unchanged), and never runs a stale client against a newer
// server.

// staticFile is one embedded file with what its responses need.
type staticFile struct {
	name        string
	contentType string
	body        []byte
	etag        string
}

// staticFiles are the files served, by URL path: the client, and the demo
// page (a shared todo list) at "/" with its script and style under /demo/.
// The demo answers only "/" itself ("GET /{$}"), so an unknown path stays a
// 404 rather than the demo page.
var staticFiles = mustStaticFiles([]staticSpec{
	{"/syncd.js", "syncd.js", "text/javascript; charset=utf-8"},
	{"/syncd.d.ts", "syncd.d.ts", "application/typescript; charset=utf-8"},
	{"/{$}", "demo/index.html", "text/html; charset=utf-8"},
	{"/demo/demo.js", "demo/demo.js", "text/javascript; charset=utf-8"},
	{"/demo/demo.css", "demo/demo.css", "text/css; charset=utf-8"},
	{"/demo/listid.js", "demo/listid.js", "text/javascript; charset=utf-8"},
	// Browsers ask for /favicon.ico whatever the page says; an SVG served
	// there is understood by every current one.
	{"/favicon.ico", "demo/favicon.svg", "image/svg+xml"},
	{"/demo/favicon.svg", "demo/favicon.svg", "image/svg+xml"},
})

// staticSpec names one served file: its URL pattern, its name in
// browser.Files and its content type.
type staticSpec struct{ pattern, name, contentType string }

func mustStaticFiles(specs []staticSpec) map[string]*staticFile {
	out := make(map[string]*staticFile, len(specs))
	for _, sp := range specs {
		body, err := fs.ReadFile(browser.Files, sp.name)
		if err != nil {
			panic("server: embedded browser client: " + err.Error()) // a build error, caught by the tests
		}
		sum := sha256.Sum256(body)
		out[sp.pattern] = &staticFile{name: sp.name, contentType: sp.contentType, body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	}
	return out
}

// registerStatic serves the browser client and the demo on mux: GET (and
// HEAD) /syncd.js, /syncd.d.ts, / with its files under /demo/, and
// /favicon.ico.
func registerStatic(mux *http.ServeMux) {
	for pattern, f := range staticFiles {
		mux.Handle("GET "+pattern, f)
	}
}

func (f *staticFile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	// ServeContent answers If-None-Match with 304, HEAD, and ranges.
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}
