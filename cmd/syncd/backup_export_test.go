package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/deltasync/syncd/internal/syncdproc"
)

// A backup of a syncd on -store nats (one embedded node; the same path
// serves every instance of a cluster) over GET /v1/backup, checked by
// `syncd backup -url`; restored into a stopped single node (-data) and
// into a running syncd over HTTP (-url), refused there while a document
// exists unless -force. Each restored document has the backed-up content
// under a new epoch; the target's other documents are left alone. About
// ten seconds, most of it the children's starts.
func TestNATSBackupAndRestore(t *testing.T) {
	src := syncdproc.Start(t, syncdproc.Options{Args: []string{"-store", "nats", "-api-key", maintKey}})
	client := ulid.Make().String()
	for i, e := range []struct{ doc, patch string }{
		{"notes:1", `{"title":"hello","gone":1}`},
		{"notes:1", `{"body":"world","gone":null}`},
		{"a.b:c_d-e", `{"odd":"id","nested":{"list":[1,null,"x"]}}`},
	} {
		apiCall(t, src, "POST", "/v1/docs/"+e.doc+"/edits", map[string]any{"patch": json.RawMessage(e.patch), "clientId": client, "clientReqId": "r" + string(rune('a'+i))}, nil)
	}
	var before1, before2 docAnswer
	apiCall(t, src, "GET", "/v1/docs/notes:1", nil, &before1)
	apiCall(t, src, "GET", "/v1/docs/a.b:c_d-e", nil, &before2)

	file := filepath.Join(t.TempDir(), "cluster.db")
	if code, out, errOut := runCmd(t, "backup", file, "-url", src.URL, "-api-key", maintKey); code != 0 || !strings.Contains(out, "backed up 2 documents") {
		t.Fatalf("backup -url of a nats syncd: %d %q %q", code, out, errOut)
	}

	// Into a stopped single node.
	dir := t.TempDir()
	if code, out, errOut := runCmd(t, "restore", file, "-data", dir); code != 0 || !strings.Contains(out, "restored 2 documents") {
		t.Fatalf("restore -data: %d %q %q", code, out, errOut)
	}
	single := syncdproc.Start(t, syncdproc.Options{DataDir: dir, Args: []string{"-api-key", maintKey}})
	requireRestored(t, single, "notes:1", before1)
	requireRestored(t, single, "a.b:c_d-e", before2)

	// Into a running syncd over HTTP: one of the documents exists there.
	target := syncdproc.Start(t, syncdproc.Options{Args: []string{"-store", "nats", "-api-key", maintKey}})
	apiCall(t, target, "POST", "/v1/docs/notes:1/edits", map[string]any{"patch": json.RawMessage(`{"local":true}`)}, nil)
	apiCall(t, target, "POST", "/v1/docs/other/edits", map[string]any{"patch": json.RawMessage(`{"kept":true}`)}, nil)
	if code, _, errOut := runCmd(t, "restore", file, "-url", target.URL, "-api-key", maintKey); code != 1 || !strings.Contains(errOut, "-force") || !strings.Contains(errOut, "notes:1") {
		t.Fatalf("restore -url over an existing document without -force: %d %q", code, errOut)
	}
	var untouched docAnswer
	apiCall(t, target, "GET", "/v1/docs/notes:1", nil, &untouched)
	if untouched.State["local"] != true || untouched.State["title"] != nil {
		t.Fatalf("a refused restore wrote: %+v", untouched)
	}
	if code, _, errOut := runCmd(t, "restore", file, "-url", target.URL, "-api-key", "wrong", "-force"); code != 1 || !strings.Contains(errOut, "401") {
		t.Fatalf("restore -url with a wrong key: %d %q", code, errOut)
	}
	if code, out, errOut := runCmd(t, "restore", file, "-url", target.URL, "-api-key", maintKey, "-force"); code != 0 || !strings.Contains(out, "restored 2 documents") {
		t.Fatalf("restore -url -force: %d %q %q", code, out, errOut)
	}
	requireRestored(t, target, "notes:1", before1)
	requireRestored(t, target, "a.b:c_d-e", before2)
	var other docAnswer
	apiCall(t, target, "GET", "/v1/docs/other", nil, &other)
	if other.State["kept"] != true {
		t.Fatalf("a document the backup does not hold changed: %+v", other)
	}
	if code, _, errOut := runCmd(t, "restore", file, "-url", target.URL); code != 2 || !strings.Contains(errOut, "-api-key") {
		t.Fatalf("restore -url without a key: %d %q", code, errOut)
	}
}

// requireRestored checks that doc on p has the content it had before the
// backup, under another epoch.
func requireRestored(t *testing.T, p *syncdproc.Proc, doc string, before docAnswer) {
	t.Helper()
	var after docAnswer
	apiCall(t, p, "GET", "/v1/docs/"+doc, nil, &after)
	a, _ := json.Marshal(after.State)
	b, _ := json.Marshal(before.State)
	if string(a) != string(b) || after.Epoch == before.Epoch || after.Epoch == "" {
		t.Fatalf("%s after restore: epoch %s state %s; before: epoch %s state %s", doc, after.Epoch, a, before.Epoch, b)
	}
}
