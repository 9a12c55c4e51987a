package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// The HTTP API for backends: every route, its key, and its statuses.

const apiKey = "k3y"

// apiError decodes {"error": {code, message, details?...}}.
func apiError(t *testing.T, body []byte) protocol.ErrorPayload {
	t.Helper()
	var e struct {
		Error protocol.ErrorPayload `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("error body %s: %v", body, err)
	}
	return e.Error
}

func (ev *env) api(method, path string, body any, want int) []byte {
	ev.t.Helper()
	code, b, hdr := ev.do(method, path, apiKey, body)
	if code != want {
		ev.t.Fatalf("%s %s: HTTP %d %s, want %d", method, path, code, b, want)
	}
	if len(b) > 0 && !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") && path != "/v1/backup" {
		ev.t.Fatalf("%s %s: content type %q", method, path, hdr.Get("Content-Type"))
	}
	return b
}

func TestHTTPAPIKey(t *testing.T) {
	off := newEnv(t, syncd.Options{}, server.Options{})
	if code, _, _ := off.do("GET", "/v1/docs", "anything", nil); code != http.StatusNotFound {
		t.Fatalf("API without a key configured: HTTP %d, want 404", code)
	}

	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: apiKey})
	ev.commit("k/doc", map[string]any{"a": 1})
	routes := []struct{ method, path string }{
		{"GET", "/v1/docs"}, {"GET", "/v1/docs/k%2Fdoc"}, {"GET", "/v1/docs/k%2Fdoc/ops?after=0"},
		{"POST", "/v1/docs/k%2Fdoc/edits"}, {"DELETE", "/v1/docs/k%2Fdoc"}, {"GET", "/v1/backup"},
	}
	for _, r := range routes {
		for _, key := range []string{"", "wrong", apiKey + "x", "k3"} {
			code, body, hdr := ev.do(r.method, r.path, key, `{"patch":{"b":2}}`)
			if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("%s %s with key %q: HTTP %d %s", r.method, r.path, key, code, body)
			}
			if p := apiError(t, body); p.Code != protocol.CodeUnauthenticated {
				t.Fatalf("error %+v", p)
			}
		}
	}
	// The X-API-Key header works as well as Authorization: Bearer.
	ctx := context.Background()
	req, _ := http.NewRequestWithContext(ctx, "GET", ev.base+"/v1/docs/k%2Fdoc", nil)
	req.Header.Set("X-API-Key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("X-API-Key: HTTP %d", resp.StatusCode)
	}
	if s := ev.snapshot("k/doc"); s.Rev != 1 {
		t.Fatalf("rev %d: an unauthenticated request changed the document", s.Rev)
	}
}

func TestHTTPAPIDocuments(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{APIKey: apiKey})
	const doc = "team:1/notes"
	const path = "/v1/docs/team:1%2Fnotes"
	ev.pad(doc, 4<<10)
	ev.commit(doc, map[string]any{"title": "hello", "n": 1})
	ev.commit("team:1/other", map[string]any{"x": 1})
	ws := ev.dial("")
	snap := ws.join(doc)

	// List, paged.
	var list struct {
		Docs []syncd.DocMeta `json:"docs"`
	}
	json.Unmarshal(ev.api("GET", "/v1/docs", nil, 200), &list)
	if len(list.Docs) != 2 || list.Docs[0].Doc != doc || list.Docs[0].Head != 2 || list.Docs[0].Epoch != snap.Epoch {
		t.Fatalf("list %+v", list)
	}
	json.Unmarshal(ev.api("GET", "/v1/docs?limit=1&after="+doc, nil, 200), &list)
	if len(list.Docs) != 1 || list.Docs[0].Doc != "team:1/other" {
		t.Fatalf("second page %+v", list)
	}
	json.Unmarshal(ev.api("GET", "/v1/docs?after=zzz", nil, 200), &list)
	if list.Docs == nil || len(list.Docs) != 0 {
		t.Fatalf("empty page %+v", list)
	}
	ev.api("GET", "/v1/docs?limit=-1", nil, 400)

	// Read one (an id with "/" is escaped as %2F).
	var view struct {
		Doc   string          `json:"doc"`
		Epoch string          `json:"epoch"`
		Rev   revision.Rev    `json:"rev"`
		State json.RawMessage `json:"state"`
	}
	json.Unmarshal(ev.api("GET", path, nil, 200), &view)
	if view.Doc != doc || view.Rev != 2 || view.Epoch != string(snap.Epoch) || !strings.Contains(string(view.State), `"title":"hello"`) {
		t.Fatalf("read %+v", view)
	}
	if p := apiError(t, ev.api("GET", "/v1/docs/no:such", nil, 404)); p.Code != protocol.CodeNotFound {
		t.Fatalf("missing %+v", p)
	}

	// Operations after a revision.
	var ops struct {
		Doc        string               `json:"doc"`
		Epoch      string               `json:"epoch"`
		Head       revision.Rev         `json:"head"`
		Operations []protocol.Operation `json:"operations"`
	}
	json.Unmarshal(ev.api("GET", path+"/ops?after=1", nil, 200), &ops)
	if ops.Head != 2 || len(ops.Operations) != 1 || ops.Operations[0].Rev != 2 || ops.Epoch != string(snap.Epoch) {
		t.Fatalf("ops %+v", ops)
	}
	json.Unmarshal(ev.api("GET", path+"/ops?after=0&limit=1", nil, 200), &ops)
	if len(ops.Operations) != 1 || ops.Operations[0].Rev != 1 {
		t.Fatalf("ops with limit %+v", ops)
	}
	json.Unmarshal(ev.api("GET", path+"/ops?after=2", nil, 200), &ops)
	if ops.Operations == nil || len(ops.Operations) != 0 {
		t.Fatalf("ops at the head %+v", ops)
	}
	ev.api("GET", path+"/ops?after=3", nil, 400)
	ev.api("GET", path+"/ops?after=x", nil, 400)
	ev.api("GET", "/v1/docs/no:such/ops?after=0", nil, 404)

	// Edits: the same rules as UPDATE, fanned out to WebSocket clients.
	var res struct {
		Doc       string             `json:"doc"`
		Epoch     string             `json:"epoch"`
		Operation protocol.Operation `json:"operation"`
	}
	backend := newClientID()
	json.Unmarshal(ev.api("POST", path+"/edits", map[string]any{"patch": []any{map[string]any{"op": "replace", "path": "/title", "value": "hi"}}, "baseRev": 2, "clientId": backend, "clientReqId": "b-1"}, 200), &res)
	if res.Doc != doc || res.Epoch != string(snap.Epoch) || res.Operation.Rev != 3 || res.Operation.ClientReqID != "b-1" || res.Operation.ClientID != protocol.AuthorID(backend) || res.Operation.Type != protocol.OpPatch {
		t.Fatalf("edit %+v", res)
	}
	if op, _ := ws.ackFrom(backend, "b-1"); op.Rev != 3 {
		t.Fatalf("fan-out %+v", op)
	}
	// A duplicate request id: 409 ALREADY_EXISTS, with details.
	p := apiError(t, ev.api("POST", path+"/edits", map[string]any{"patch": map[string]any{"n": 2}, "clientId": backend, "clientReqId": "b-1"}, 409))
	if p.Code != protocol.CodeAlreadyExists {
		t.Fatalf("duplicate %+v", p)
	}
	updateDetails(t, p, doc, "b-1")
	// A conflict with another client's operation: 409 ABORTED.
	p = apiError(t, ev.api("POST", path+"/edits", map[string]any{"patch": map[string]any{"title": "stale"}, "baseRev": 2, "clientId": newClientID(), "clientReqId": "o-1"}, 409))
	if p.Code != protocol.CodeAborted || p.RetryAfterMs == nil {
		t.Fatalf("conflict %+v", p)
	}
	if d := updateDetails(t, p, doc, "o-1"); d.ServerRev != 3 {
		t.Fatalf("details %+v", d)
	}
	// A failing test: 412; an invalid patch, a bad body: 400.
	p = apiError(t, ev.api("POST", path+"/edits", map[string]any{"patch": []any{map[string]any{"op": "test", "path": "/n", "value": 99}}}, 412))
	if p.Code != protocol.CodeFailedPrecondition {
		t.Fatalf("test failed %+v", p)
	}
	// Refusals of an edit name it and the head, with or without ids.
	for _, body := range []map[string]any{
		{"patch": []any{map[string]any{"op": "nope", "path": "/n"}}},
		{"patch": []any{map[string]any{"op": "replace", "path": "", "value": 1}}, "clientId": backend, "clientReqId": "b-3"},
	} {
		p := apiError(t, ev.api("POST", path+"/edits", body, 400))
		rid, _ := body["clientReqId"].(string)
		if d := updateDetails(t, p, doc, rid); d.ServerRev != 3 || p.Code != protocol.CodeInvalidArgument {
			t.Fatalf("%v: %+v", body, p)
		}
	}
	for _, body := range []any{
		map[string]any{"patch": map[string]any{"n": 1}, "sneaky": true},
		map[string]any{"patch": map[string]any{"n": 1}, "clientId": backend},
		map[string]any{},
		`{"patch":`,
	} {
		if p := apiError(t, ev.api("POST", path+"/edits", body, 400)); p.Code != protocol.CodeInvalidArgument {
			t.Fatalf("%v: %+v", body, p)
		}
	}
	ev.api("POST", "/v1/docs/not%20valid/edits", map[string]any{"patch": map[string]any{"n": 1}}, 400)
	if s := ev.snapshot(doc); s.Rev != 3 {
		t.Fatalf("rev %d after refused edits", s.Rev)
	}
	ws.quiet()

	// Delete: the live subscriber gets a gap (epoch) and the new, empty
	// document; reading it is 404; editing re-creates it in a new epoch.
	ev.api("DELETE", path, nil, 204)
	ans := ws.readJoinAnswerNoPresence(t, doc)
	if ans.gap == nil || ans.gap.Reason != protocol.GapEpoch || ans.snap == nil || ans.snap.Epoch == snap.Epoch || ans.snap.Rev != 0 || string(ans.snap.State) != "{}" {
		t.Fatalf("after delete: gap %+v snap %+v", ans.gap, ans.snap)
	}
	ev.api("DELETE", "/v1/docs/no:such", nil, 404)
	json.Unmarshal(ev.api("GET", "/v1/docs?limit=10", nil, 200), &list)
	if len(list.Docs) != 2 {
		t.Fatalf("list after delete with a live subscriber %+v", list)
	}
	op := ws.edit(doc, map[string]any{"again": true})
	if op.Rev != 1 {
		t.Fatalf("first op of the new epoch at %d", op.Rev)
	}
	// The old history's revision is never mistaken for the new one.
	old := ev.dial("")
	a2 := old.joinAt(doc, revision.Position{Epoch: snap.Epoch, Rev: 1})
	if a2.gap == nil || a2.gap.Reason != protocol.GapEpoch || a2.snap.Epoch != ans.snap.Epoch {
		t.Fatalf("old epoch rejoin %+v %+v", a2.gap, a2.snap)
	}
	// Without subscribers, delete removes the document.
	ev.api("DELETE", "/v1/docs/team:1%2Fother", nil, 204)
	ev.api("GET", "/v1/docs/team:1%2Fother", nil, 404)
}

// readJoinAnswerNoPresence reads a gap and snapshot (or deltas) that are
// not a JOIN answer (a live reset), so no PRESENCE follows.
func (c *client) readJoinAnswerNoPresence(t *testing.T, doc string) joinAnswer {
	t.Helper()
	var a joinAnswer
	m := c.expect(protocol.TypeRevisionGap)
	g := decodeAs[protocol.RevisionGap](t, m)
	a.gap = &g
	s := decodeAs[protocol.SyncSnapshot](t, c.next(protocol.TypeSyncSnapshot))
	a.snap = &s
	if g.Doc != doc || s.Doc != doc {
		t.Fatalf("reset of %s/%s, want %s", g.Doc, s.Doc, doc)
	}
	return a
}

func TestHTTPAPIOpsGone(t *testing.T) {
	st := memstore.New(memstore.Options{Retention: 16})
	ev := newEnvStore(t, st, syncd.Options{RingSize: 16, SnapshotInterval: 16}, server.Options{APIKey: apiKey})
	const doc = "gone/doc"
	head := ev.commitN(doc, 100)
	b := ev.api("GET", "/v1/docs/gone%2Fdoc/ops?after=1", nil, 410)
	var gone struct {
		SnapshotRev revision.Rev `json:"snapshotRev"`
	}
	json.Unmarshal(b, &gone)
	p := apiError(t, b)
	if gone.SnapshotRev != head || p.Code != protocol.CodeFailedPrecondition {
		t.Fatalf("410 body %s (head %d)", b, head)
	}
	// The snapshot the 410 points at is what GET returns.
	var view struct {
		Rev revision.Rev `json:"rev"`
	}
	json.Unmarshal(ev.api("GET", "/v1/docs/gone%2Fdoc", nil, 200), &view)
	if view.Rev != gone.SnapshotRev {
		t.Fatalf("snapshot at %d, 410 said %d", view.Rev, gone.SnapshotRev)
	}
	// Recent operations are still served.
	ev.api("GET", "/v1/docs/gone%2Fdoc/ops?after=95", nil, 200)
}

func TestHTTPAPIBackup(t *testing.T) {
	// Without a backup function: 501.
	mem := newEnv(t, syncd.Options{}, server.Options{APIKey: apiKey})
	if p := apiError(t, mem.api("GET", "/v1/backup", nil, 501)); p.Code != protocol.CodeUnimplemented {
		t.Fatalf("%+v", p)
	}

	dir := t.TempDir()
	st := openBolt(t, filepath.Join(dir, "syncd.db"))
	ev := newEnvStore(t, st, syncd.Options{}, server.Options{APIKey: apiKey, Backup: st.Backup})
	const doc = "backup/doc"
	c := ev.dial("")
	c.join(doc)
	for i := 0; i < 20; i++ {
		c.edit(doc, map[string]any{"k": i, "list": []int{i, i * 2}})
	}
	want := ev.snapshot(doc)

	body := ev.api("GET", "/v1/backup", nil, 200)
	copyPath := filepath.Join(dir, "copy.db")
	if err := os.WriteFile(copyPath, body, 0o600); err != nil {
		t.Fatal(err)
	}
	// It opens as a bbolt database, and checks out.
	db, err := bbolt.Open(copyPath, 0o600, &bbolt.Options{ReadOnly: true, Timeout: readTimeout})
	if err != nil {
		t.Fatalf("backup does not open as bbolt: %v", err)
	}
	var buckets []string
	err = db.View(func(tx *bbolt.Tx) error {
		var first error
		for e := range tx.Check() { // drained to the end: it has a goroutine
			if first == nil {
				first = e
			}
		}
		if first != nil {
			return first
		}
		return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			buckets = append(buckets, string(name))
			return nil
		})
	})
	db.Close()
	if err != nil || len(buckets) == 0 {
		t.Fatalf("backup: buckets %v, err %v", buckets, err)
	}
	// And it is a working syncd database: open it as a store, and the
	// document is there, at the same revision, with the same state.
	copySt := openBolt(t, copyPath)
	e, err := syncd.Open(copySt, syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer copySt.Close()
	defer e.Close()
	got, err := e.State(context.Background(), doc)
	if err != nil || got.Rev != want.Rev || got.Epoch != want.Epoch || string(got.State) != string(want.State) {
		t.Fatalf("restored %+v %v, want %+v", got, err, want)
	}
	if _, err := e.Commit(context.Background(), doc, syncd.Edit{Patch: []byte(`{"restored":true}`)}); err != nil {
		t.Fatalf("the restored database takes edits: %v", err)
	}
}
