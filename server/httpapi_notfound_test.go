package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// apiError decodes an API error body; it fails unless the body is JSON.
func jsonAPIError(t *testing.T, status int, body []byte, h http.Header) protocol.ErrorPayload {
	t.Helper()
	var e struct {
		Error protocol.ErrorPayload `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("HTTP %d %q (%s): want a JSON error", status, body, h.Get("Content-Type"))
	}
	return e.Error
}

// TestAPIOffAnswersJSON: with the API off, every /v1/ request is a JSON 404
// that says the API is off and how to turn it on.
func TestAPIOffAnswersJSON(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	for _, req := range [][2]string{{"GET", "/v1/docs"}, {"GET", "/v1/docs/a"}, {"POST", "/v1/docs/a/edits"}, {"GET", "/v1/nothing"}, {"PUT", "/v1/docs/a"}} {
		status, body, h := ev.do(req[0], req[1], "", nil)
		e := jsonAPIError(t, status, body, h)
		if status != http.StatusNotFound || e.Code != protocol.CodeNotFound || !strings.Contains(e.Message, "API is off") || !strings.Contains(e.Message, "-api-key") {
			t.Errorf("%s %s: HTTP %d %+v", req[0], req[1], status, e)
		}
	}
}

// TestAPIUnmatchedAnswersJSON: with the API on, an unknown endpoint is a
// JSON 404 and a wrong method a JSON 405 with Allow, like every other API
// error.
func TestAPIUnmatchedAnswersJSON(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: "k"})
	status, body, h := ev.do("GET", "/v1/nothing", "k", nil)
	if e := jsonAPIError(t, status, body, h); status != http.StatusNotFound || e.Code != protocol.CodeNotFound || !strings.Contains(e.Message, "/v1/nothing") {
		t.Errorf("unknown endpoint: HTTP %d %+v", status, e)
	}
	status, body, h = ev.do("PUT", "/v1/docs/a", "k", `{}`)
	e := jsonAPIError(t, status, body, h)
	if status != http.StatusMethodNotAllowed || h.Get("Allow") != "GET, DELETE" || !strings.Contains(e.Message, "PUT") {
		t.Errorf("wrong method: HTTP %d Allow %q %+v", status, h.Get("Allow"), e)
	}
	// The routes themselves still work.
	if status, body, _ := ev.do("GET", "/v1/docs", "k", nil); status != http.StatusOK {
		t.Errorf("GET /v1/docs: HTTP %d %s", status, body)
	}
}
