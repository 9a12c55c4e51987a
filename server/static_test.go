package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestStaticBrowserClient(t *testing.T) {
	mux := http.NewServeMux()
	registerStatic(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, tc := range []struct {
		path, file, contentType, contains string
	}{
		{"/syncd.js", "../client/browser/syncd.js", "text/javascript; charset=utf-8", "export class SyncClient"},
		{"/syncd.d.ts", "../client/browser/syncd.d.ts", "application/typescript; charset=utf-8", "export declare class SyncClient"},
		{"/", "../client/browser/demo/index.html", "text/html; charset=utf-8", `src="/demo/demo.js"`},
		{"/demo/demo.js", "../client/browser/demo/demo.js", "text/javascript; charset=utf-8", `from "/syncd.js"`},
		{"/demo/demo.css", "../client/browser/demo/demo.css", "text/css; charset=utf-8", "#list"},
		{"/demo/listid.js", "../client/browser/demo/listid.js", "text/javascript; charset=utf-8", "export function listDocId"},
		// No 404 for the icon browsers ask for on every load.
		{"/favicon.ico", "../client/browser/demo/favicon.svg", "image/svg+xml", "<svg"},
		{"/demo/favicon.svg", "../client/browser/demo/favicon.svg", "image/svg+xml", "<svg"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", got)
			}
			want, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != string(want) {
				t.Errorf("body differs from %s (%d bytes, want %d)", tc.file, len(body), len(want))
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("body lacks %q", tc.contains)
			}
			etag := resp.Header.Get("ETag")
			if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
				t.Fatalf("ETag %q", etag)
			}

			// Revalidation with the ETag: 304, no body.
			req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
			req.Header.Set("If-None-Match", etag)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("revalidation: status %d, %d bytes; want 304, none", resp.StatusCode, len(body))
			}

			// HEAD: headers, no body.
			resp, err = http.Head(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != etag {
				t.Errorf("HEAD: status %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
			}
		})
	}

	// The demo answers "/" only: other unknown paths stay 404.
	for _, p := range []string{"/nope", "/demo/", "/demo/missing.js"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, resp.StatusCode)
		}
	}

	// Writes are not served.
	resp, err := http.Post(srv.URL+"/syncd.js", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", resp.StatusCode)
	}
}
