package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
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

// heldCommitStore holds the next Commit after hold is set, until gate is
// closed.
type heldCommitStore struct {
	syncd.Store
	hold    atomic.Bool
	entered chan struct{}
	gate    chan struct{}
}

func (s *heldCommitStore) Commit(ctx context.Context, batch []syncd.Record) error {
	if s.hold.CompareAndSwap(true, false) {
		close(s.entered)
		<-s.gate
	}
	return s.Store.Commit(ctx, batch)
}

// The answer to an HTTP edit names the epoch its operation was committed
// in, even when the document was deleted and re-created (a new epoch)
// while the edit was being written: reading the document's epoch after the
// commit named the new one, with an operation that is not part of it.
func TestHTTPAPIEditAnswersItsOwnEpoch(t *testing.T) {
	st := &heldCommitStore{Store: memstore.New(memstore.Options{}), entered: make(chan struct{}), gate: make(chan struct{})}
	ev := newEnvStore(t, st, syncd.Options{}, server.Options{APIKey: apiKey})
	var release sync.Once
	open := func() { release.Do(func() { close(st.gate) }) }
	t.Cleanup(open)
	ev.commit("ep/doc", map[string]any{"n": 0})
	first, _ := ev.engine.Head("ep/doc")

	st.hold.Store(true)
	type answer struct {
		code int
		body []byte
	}
	answered := make(chan answer, 1)
	go func() {
		code, body, _ := ev.do("POST", "/v1/docs/ep%2Fdoc/edits", apiKey, map[string]any{"patch": map[string]any{"n": 1}})
		answered <- answer{code, body}
	}()
	<-st.entered // the edit is decided; its write is held

	ctx := context.Background()
	go ev.engine.Delete(ctx, "ep/doc")
	waitFor(t, 10*time.Second, "the deletion decided", func() bool { _, ok := ev.engine.Head("ep/doc"); return !ok })
	go ev.engine.Commit(ctx, "ep/doc", syncd.Edit{Patch: json.RawMessage(`{"again":true}`)})
	waitFor(t, 10*time.Second, "the new epoch decided", func() bool { pos, ok := ev.engine.Head("ep/doc"); return ok && pos.Epoch != first.Epoch })
	open()

	a := <-answered
	if a.code != http.StatusOK {
		t.Fatalf("edit: HTTP %d %s", a.code, a.body)
	}
	var got struct {
		Epoch     string
		Operation protocol.Operation
	}
	if err := json.Unmarshal(a.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Epoch != string(first.Epoch) || got.Operation.Rev != 2 {
		now, _ := ev.engine.Head("ep/doc")
		t.Fatalf("answer names epoch %q rev %d; the edit was committed as rev 2 of epoch %q (the document is now in %q)", got.Epoch, got.Operation.Rev, first.Epoch, now.Epoch)
	}
}
