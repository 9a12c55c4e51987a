package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// A limit of 0 is a bad query parameter, answered 400 INVALID_ARGUMENT
// like any other value out of range (PROTOCOL.md §11.1): not a 500
// INTERNAL from the store (GET /v1/docs), nor a page of the engine's own
// size that is neither 0 nor the documented default (GET .../ops).
func TestHTTPAPIZeroLimit(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: apiKey})
	ev.commitN("z/doc", 3)
	for _, path := range []string{"/v1/docs?limit=0", "/v1/docs/z%2Fdoc/ops?limit=0"} {
		if p := apiError(t, ev.api("GET", path, nil, 400)); p.Code != protocol.CodeInvalidArgument {
			t.Fatalf("GET %s: %+v", path, p)
		}
	}
}

// A client id is a ULID "in either case" and one client is one key
// (PROTOCOL.md §2.2, protocol.ParseClientID): the upgrade canonicalizes it,
// and the HTTP API, whose clientId gives an edit "the same idempotency as
// an UPDATE from that client" (§11.1), must too. Otherwise the same
// request of the same client is applied twice when the id arrives in
// another case, and the operation shows an author id that is not the
// client's. A clientId that is not a ULID is refused 400.
func TestHTTPAPIEditClientIDIsCanonical(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: apiKey})
	const upper = "01JD3QX7M2K9P4T6W1Z3B5D8F0"
	lower := strings.ToLower(upper)
	const doc = "/v1/docs/cid%2Fdoc/edits"

	var first struct{ Operation protocol.Operation }
	if err := json.Unmarshal(ev.api("POST", doc, map[string]any{"patch": map[string]any{"n": 1}, "clientId": upper, "clientReqId": "r1"}, 200), &first); err != nil {
		t.Fatal(err)
	}
	if first.Operation.ClientID != protocol.AuthorID(upper) {
		t.Fatalf("author %q, want %q", first.Operation.ClientID, protocol.AuthorID(upper))
	}
	// The same request of the same client, its id in lower case: decided.
	code, body, _ := ev.do("POST", doc, apiKey, map[string]any{"patch": map[string]any{"n": 2}, "clientId": lower, "clientReqId": "r1"})
	if code != http.StatusConflict || apiError(t, body).Code != protocol.CodeAlreadyExists {
		t.Fatalf("request r1 again with the client id in lower case: HTTP %d %s, want 409 ALREADY_EXISTS", code, body)
	}
	if st := ev.snapshot("cid/doc"); st.Rev != 1 {
		t.Fatalf("document at revision %d after one request of one client, want 1: %s", st.Rev, st.State)
	}
	var next struct{ Operation protocol.Operation }
	if err := json.Unmarshal(ev.api("POST", doc, map[string]any{"patch": map[string]any{"n": 3}, "clientId": lower, "clientReqId": "r2"}, 200), &next); err != nil {
		t.Fatal(err)
	}
	if next.Operation.ClientID != protocol.AuthorID(upper) {
		t.Fatalf("author of a lower-case client id %q, want the client's %q", next.Operation.ClientID, protocol.AuthorID(upper))
	}
	code, body, _ = ev.do("POST", doc, apiKey, map[string]any{"patch": map[string]any{"n": 4}, "clientId": "not-a-ulid", "clientReqId": "r3"})
	if code != http.StatusBadRequest || apiError(t, body).Code != protocol.CodeInvalidArgument {
		t.Fatalf("clientId not a ULID: HTTP %d %s, want 400 INVALID_ARGUMENT", code, body)
	}
}

// "every request needs the key ... (otherwise 401 UNAUTHENTICATED)"
// (PROTOCOL.md §11.1): the answers for paths and methods no route has are
// no exception; without the key they must not tell which methods a path
// takes, or that an endpoint does not exist.
func TestHTTPAPIUnmatchedNeedsTheKey(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: apiKey})
	for _, r := range []struct{ method, path string }{
		{"PUT", "/v1/docs/a"}, {"PATCH", "/v1/docs/a/edits"}, {"GET", "/v1/nothing"}, {"DELETE", "/v1/backup"},
	} {
		for _, key := range []string{"", "wrong"} {
			code, body, hdr := ev.do(r.method, r.path, key, nil)
			if code != http.StatusUnauthorized || hdr.Get("Allow") != "" || apiError(t, body).Code != protocol.CodeUnauthenticated {
				t.Errorf("%s %s with key %q: HTTP %d Allow %q %s, want 401", r.method, r.path, key, code, hdr.Get("Allow"), body)
			}
		}
	}
	// With the key, they are answered as before.
	if code, _, hdr := ev.do("PUT", "/v1/docs/a", apiKey, nil); code != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET, DELETE" {
		t.Errorf("PUT with the key: HTTP %d Allow %q", code, hdr.Get("Allow"))
	}
}

// HEAD /v1/backup (the GET route takes HEAD) answers with the headers and
// copies nothing: a copy of the whole database for a body nobody reads
// would hold the store's backup meanwhile.
func TestHTTPAPIBackupHead(t *testing.T) {
	var calls atomic.Int32
	backup := func(ctx context.Context, w io.Writer) (int64, error) {
		calls.Add(1)
		n, err := w.Write([]byte("db"))
		return int64(n), err
	}
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: apiKey, Backup: backup})
	code, _, hdr := ev.do("HEAD", "/v1/backup", apiKey, nil)
	if code != http.StatusOK || hdr.Get("Content-Type") != "application/octet-stream" || calls.Load() != 0 {
		t.Fatalf("HEAD: HTTP %d, Content-Type %q, %d backups taken; want 200, octet-stream, none", code, hdr.Get("Content-Type"), calls.Load())
	}
	if body := ev.api("GET", "/v1/backup", nil, 200); string(body) != "db" || calls.Load() != 1 {
		t.Fatalf("GET: %q, %d backups", body, calls.Load())
	}
}
