package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// apiOf returns a caller of m's HTTP API (key maintKey) taking an already
// escaped path.
func apiOf(t *testing.T, m *Main) func(method, path, body string) (int, string) {
	return func(method, path, body string) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = bytes.NewReader([]byte(body))
		}
		req, _ := http.NewRequest(method, "http://"+m.Addr()+path, rd)
		req.Header.Set("Authorization", "Bearer "+maintKey)
		resp, err := (&http.Client{Timeout: timeout}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// Document ids "." and ".." are valid (letters, digits and ": _ . / -"),
// and the HTTP API serves them when their dots are escaped (%2E). `syncd
// restore -url` must write them like any other document; it must neither
// take them for documents that exist on an empty target nor fail half-way.
func TestRestoreOverHTTPDotDocumentIDs(t *testing.T) {
	srcM := boot(t, t.TempDir(), "-api-key", maintKey)
	src := apiOf(t, srcM)
	for _, e := range []struct{ path, patch string }{
		{"/v1/docs/%2E/edits", `{"one":"dot"}`},
		{"/v1/docs/%2E%2E/edits", `{"two":"dots"}`},
		{"/v1/docs/notes:1/edits", `{"plain":true}`},
	} {
		if code, body := src("POST", e.path, `{"patch":`+e.patch+`}`); code != http.StatusOK {
			t.Fatalf("POST %s: HTTP %d %s", e.path, code, body)
		}
	}
	file := filepath.Join(t.TempDir(), "dots.db")
	if code, out, errOut := runCmd(t, "backup", file, "-url", "http://"+srcM.Addr(), "-api-key", maintKey); code != 0 || !strings.Contains(out, "backed up 3 documents") {
		t.Fatalf("backup -url: %d %q %q", code, out, errOut)
	}

	dstM := boot(t, t.TempDir(), "-api-key", maintKey)
	dst := apiOf(t, dstM)
	if code, out, errOut := runCmd(t, "restore", file, "-url", "http://"+dstM.Addr(), "-api-key", maintKey); code != 0 || !strings.Contains(out, "restored 3 documents") {
		t.Fatalf("restore -url into an empty syncd: %d %q %q", code, out, errOut)
	}
	for path, want := range map[string]string{
		"/v1/docs/%2E":     `"one":"dot"`,
		"/v1/docs/%2E%2E":  `"two":"dots"`,
		"/v1/docs/notes:1": `"plain":true`,
	} {
		if code, body := dst("GET", path, ""); code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("GET %s after the restore: HTTP %d %s", path, code, body)
		}
	}
}

// flagcheck.go: "A value that would otherwise silently become the
// default, such as -rate 0, is refused the same way." -admin-session-ttl 0
// (or negative) becomes the 12 h default in server.Options, and
// -max-conns-per-addr 0 becomes 256.
func TestZeroFlagsDoNotSilentlyBecomeTheDefault(t *testing.T) {
	for _, args := range [][]string{
		{"-admin-session-ttl", "0s"},
		{"-admin-session-ttl", "-1m"},
		{"-max-conns-per-addr", "0"},
	} {
		m, err := parse(t, args, nil)
		if err == nil {
			t.Errorf("%v accepted (admin session TTL %v, conns per addr %d): it silently becomes the default", args, m.Config.AdminSessionTTL, m.Config.Transport.MaxConnsPerAddr)
			continue
		}
		if !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: error %q does not name the flag", args, err)
		}
	}
}

// `syncd restore -url` into a syncd at its -max-loaded-docs budget: the
// API answers 429 RESOURCE_EXHAUSTED, retryable with retryAfterMs, while
// the documents it just wrote are still counted as in use (the engine
// keeps those used within the last second). The restore must wait and
// retry as the answer says rather than stop half-way, with some
// documents restored and the rest not.
func TestRestoreOverHTTPRetriesWhenTheTargetIsFull(t *testing.T) {
	srcM := boot(t, t.TempDir(), "-api-key", maintKey)
	src := apiOf(t, srcM)
	const n = 12
	for i := range n {
		path := fmt.Sprintf("/v1/docs/full:%02d/edits", i)
		if code, body := src("POST", path, fmt.Sprintf(`{"patch":{"n":%d}}`, i)); code != http.StatusOK {
			t.Fatalf("POST %s: HTTP %d %s", path, code, body)
		}
	}
	file := filepath.Join(t.TempDir(), "full.db")
	if code, out, errOut := runCmd(t, "backup", file, "-url", "http://"+srcM.Addr(), "-api-key", maintKey); code != 0 || !strings.Contains(out, fmt.Sprintf("backed up %d documents", n)) {
		t.Fatalf("backup -url: %d %q %q", code, out, errOut)
	}
	dstM := boot(t, t.TempDir(), "-api-key", maintKey, "-max-loaded-docs", "3")
	if code, out, errOut := runCmd(t, "restore", file, "-url", "http://"+dstM.Addr(), "-api-key", maintKey); code != 0 || !strings.Contains(out, fmt.Sprintf("restored %d documents", n)) {
		t.Fatalf("restore -url into a syncd at its document budget: %d %q %q", code, out, errOut)
	}
	dst := apiOf(t, dstM)
	for i := range n {
		path := fmt.Sprintf("/v1/docs/full:%02d", i)
		for try := 0; ; try++ {
			code, body := dst("GET", path, "")
			if code == http.StatusOK && strings.Contains(body, fmt.Sprintf(`"n":%d`, i)) {
				break
			}
			if code != http.StatusTooManyRequests || try == 50 {
				t.Fatalf("GET %s after the restore: HTTP %d %s", path, code, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
