package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// TestHTTPBackupFailsBeforeStreaming: a backup that fails before sending a
// byte (the store could not take its copy) is answered with an error
// status, not a cut stream.
func TestHTTPBackupFailsBeforeStreaming(t *testing.T) {
	failing := func(context.Context, io.Writer) (int64, error) {
		return 0, errors.New("no space left on device")
	}
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: apiKey, Backup: failing})
	p := apiError(t, ev.api("GET", "/v1/backup", nil, http.StatusServiceUnavailable))
	if p.Code != protocol.CodeUnavailable || !strings.Contains(p.Message, "no space left") {
		t.Fatalf("%+v", p)
	}
}

// TestHTTPRefusedBodyClosesConnection: a request whose body will not be
// read (refused by the API key check, or sent to a route that takes no
// body) is answered with Connection: close; an accepted edit keeps the
// connection.
func TestHTTPRefusedBodyClosesConnection(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: apiKey})
	for _, c := range []struct {
		method, path, key string
		status            int
		close             bool
	}{
		{"POST", "/v1/docs/b/edits", "", http.StatusUnauthorized, true},
		{"POST", "/v1/docs/b/edits", "wrong", http.StatusUnauthorized, true},
		{"POST", "/healthz", "", http.StatusMethodNotAllowed, true},
		{"GET", "/v1/docs", apiKey, http.StatusOK, true}, // a GET with a body
		{"POST", "/v1/docs/b/edits", apiKey, http.StatusOK, false},
	} {
		req, err := http.NewRequest(c.method, ev.base+c.path, strings.NewReader(`{"patch":{"a":1}}`))
		if err != nil {
			t.Fatal(err)
		}
		if c.key != "" {
			req.Header.Set("X-API-Key", c.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || resp.Close != c.close {
			t.Errorf("%s %s key %q: HTTP %d, close %v; want %d, close %v", c.method, c.path, c.key, resp.StatusCode, resp.Close, c.status, c.close)
		}
	}
}
