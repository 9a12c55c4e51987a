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

// staticFiles are the files served, by URL path.
var staticFiles = mustStaticFiles(map[string]string{
	"syncd.js":   "text/javascript; charset=utf-8",
	"syncd.d.ts": "application/typescript; charset=utf-8",
})

func mustStaticFiles(types map[string]string) map[string]*staticFile {
	out := make(map[string]*staticFile, len(types))
	for name, ct := range types {
		body, err := fs.ReadFile(browser.Files, name)
		if err != nil {
			panic("server: embedded browser client: " + err.Error()) // a build error, caught by the tests
		}
		sum := sha256.Sum256(body)
		out["/"+name] = &staticFile{name: name, contentType: ct, body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	}
	return out
}

// registerStatic serves the browser client on mux: GET (and HEAD) /syncd.js
// and /syncd.d.ts.
func registerStatic(mux *http.ServeMux) {
	for path, f := range staticFiles {
		mux.Handle("GET "+path, f)
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
