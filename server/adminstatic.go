package server

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
)

// The admin page's files, embedded in the binary and served like the demo
// (static.go): no build step, no third-party script.
//
//go:embed adminui/index.html adminui/login.html adminui/admin.js adminui/admin.css
var adminUI embed.FS

// adminFiles are the admin page's files by URL path. index.html and
// login.html are not routes of their own: /admin serves one or the other.
var adminFiles = func() map[string]*staticFile {
	out := make(map[string]*staticFile)
	for _, sp := range []staticSpec{
		{"/admin/index.html", "adminui/index.html", "text/html; charset=utf-8"},
		{"/admin/login.html", "adminui/login.html", "text/html; charset=utf-8"},
		{"/admin/admin.js", "adminui/admin.js", "text/javascript; charset=utf-8"},
		{"/admin/admin.css", "adminui/admin.css", "text/css; charset=utf-8"},
	} {
		body, err := adminUI.ReadFile(sp.name)
		if err != nil {
			panic("server: embedded admin page: " + err.Error())
		}
		sum := sha256.Sum256(body)
		out[sp.pattern] = &staticFile{name: sp.name, contentType: sp.contentType, body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	}
	return out
}()
