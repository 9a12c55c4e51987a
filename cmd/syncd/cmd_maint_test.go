package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/deltasync/syncd/internal/syncdproc"
)

// The maintenance commands against databases made by a real syncd: backup
// from a running child over HTTP, the refusals while it runs, inspect,
// backup from the data directory, compact, restore, and a syncd started on
// the restored data whose clients see new epochs and the same content.
// It takes about ten seconds on a busy machine, most of it building the
// syncd binary (shared with the other tests that start a child) and two
// starts of it.

const maintKey = "maint-key"

// runCmd runs a maintenance command in process.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	c, ok := lookupCommand(args)
	if !ok {
		t.Fatalf("no command %q", args[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code = c.run(ctx, args[1:], &out, &errOut)
	return code, out.String(), errOut.String()
}

// apiCall calls the HTTP API of a child syncd and decodes the answer.
func apiCall(t *testing.T, p *syncdproc.Proc, method, path string, body any, v any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+maintKey)
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d %s", method, path, resp.StatusCode, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
}

type docAnswer struct {
	Epoch string         `json:"epoch"`
	Rev   uint64         `json:"rev"`
	State map[string]any `json:"state"`
}

func TestMaintenanceCommands(t *testing.T) {
	dir := t.TempDir()
	p := syncdproc.Start(t, syncdproc.Options{DataDir: dir, Args: []string{"-api-key", maintKey}})
	client := ulid.Make().String()
	for i, e := range []struct{ doc, patch string }{
		{"notes:1", `{"title":"hello"}`},
		{"notes:1", `{"body":"world"}`},
		{"notes:2", `{"pad":"` + strings.Repeat("p", 200_000) + `"}`},
		{"notes:2", `{"pad":null,"n":1}`},
	} {
		apiCall(t, p, "POST", "/v1/docs/"+e.doc+"/edits", map[string]any{"patch": json.RawMessage(e.patch), "clientId": client, "clientReqId": "r" + string(rune('a'+i))}, nil)
	}
	var before docAnswer
	apiCall(t, p, "GET", "/v1/docs/notes:1", nil, &before)

	// Hot backup from the running syncd.
	hot := filepath.Join(t.TempDir(), "hot.db")
	if code, out, errOut := runCmd(t, "backup", hot, "-url", p.URL, "-api-key", maintKey); code != 0 || !strings.Contains(out, "backed up 2 documents") {
		t.Fatalf("backup -url: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, "backup", filepath.Join(t.TempDir(), "x.db"), "-url", p.URL, "-api-key", "wrong"); code != 1 || !strings.Contains(errOut, "401") {
		t.Fatalf("backup with a wrong key: %d %q", code, errOut)
	}
	// Everything that needs a stopped syncd says a syncd is running.
	for _, args := range [][]string{
		{"backup", filepath.Join(t.TempDir(), "y.db"), "-data", dir},
		{"inspect", "-data", dir},
		{"compact", "-data", dir},
		{"restore", hot, "-data", dir, "-force"},
	} {
		if code, _, errOut := runCmd(t, args...); code != 1 || !strings.Contains(errOut, "a syncd is running on") {
			t.Fatalf("%v while syncd runs: %d %q", args, code, errOut)
		}
	}
	if err := p.Stop(timeout); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCmd(t, "inspect", "-data", dir)
	if code != 0 || !strings.Contains(out, "notes:1") || !strings.Contains(out, before.Epoch) || !strings.Contains(out, "2 documents") {
		t.Fatalf("inspect: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runCmd(t, "inspect", "notes:1", "-data", dir, "-ops", "1")
	if code != 0 || !strings.Contains(out, "\"title\": \"hello\"") || !strings.Contains(out, "newest operations (1)") || !strings.Contains(out, `{"body":"world"}`) || strings.Contains(out, `{"title":"hello"}`) {
		t.Fatalf("inspect notes:1: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, "inspect", "nope", "-data", dir); code != 1 || !strings.Contains(errOut, `no document "nope"`) {
		t.Fatalf("inspect of a missing document: %d %q", code, errOut)
	}

	cold := filepath.Join(t.TempDir(), "cold.db")
	if code, out, errOut := runCmd(t, "backup", cold, "-data", dir); code != 0 || !strings.Contains(out, "backed up 2 documents") {
		t.Fatalf("backup -data: %d %q %q", code, out, errOut)
	}
	// The write-ahead log's applier writes few, large transactions, so a
	// small database may leave nothing to reclaim: either answer is right.
	if code, out, errOut := runCmd(t, "compact", "-data", dir); code != 0 || !strings.Contains(out, "compacted") && !strings.Contains(out, "no space to reclaim") {
		t.Fatalf("compact: %d %q %q", code, out, errOut)
	}

	// Restore the hot backup into a new directory; a second restore needs
	// -force; a file that is not a database is refused.
	restored := t.TempDir()
	if code, out, errOut := runCmd(t, "restore", hot, "-data", restored); code != 0 || !strings.Contains(out, "restored 2 documents") {
		t.Fatalf("restore: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, "restore", cold, "-data", restored); code != 1 || !strings.Contains(errOut, "-force") {
		t.Fatalf("restore over a database without -force: %d %q", code, errOut)
	}
	junk := filepath.Join(t.TempDir(), "junk.db")
	os.WriteFile(junk, []byte("not a database"), 0o600)
	if code, _, errOut := runCmd(t, "restore", junk, "-data", restored, "-force"); code != 1 || !strings.Contains(errOut, "not a good backup") {
		t.Fatalf("restore of junk: %d %q", code, errOut)
	}

	// A syncd on the restored data: same content under a new epoch; a
	// client that had the old epoch is told so and gets a snapshot.
	p2 := syncdproc.Start(t, syncdproc.Options{DataDir: restored, Args: []string{"-api-key", maintKey}})
	var after docAnswer
	apiCall(t, p2, "GET", "/v1/docs/notes:1", nil, &after)
	if after.Epoch == before.Epoch || after.Rev != before.Rev || after.State["title"] != "hello" || after.State["body"] != "world" {
		t.Fatalf("restored notes:1 %+v, before %+v", after, before)
	}
	c := dialWS(t, p2.WS, client, nil)
	c.send("JOIN", map[string]any{"doc": "notes:1", "epoch": before.Epoch, "rev": before.Rev})
	var gap struct{ Reason string }
	c.expect("REVISION_GAP", &gap)
	var snap snapshot
	c.expect("SYNC.SNAPSHOT", &snap)
	if gap.Reason != "epoch" || snap.Epoch != after.Epoch || !strings.Contains(string(snap.State), `"title":"hello"`) || snap.AckedReqID != "" {
		t.Fatalf("rejoin after restore: gap %+v, snapshot %+v (want the new epoch, the content, no watermark)", gap, snap)
	}
	// The client's old request ids were decided in the old epoch only.
	c.send("UPDATE", map[string]any{"doc": "notes:1", "patch": map[string]any{"again": true}, "clientReqId": "ra", "epoch": after.Epoch})
	var d deltas
	c.expect("SYNC.DELTAS", &d)
	if len(d.Operations) != 1 || d.Operations[0].ClientReqID != "ra" {
		t.Fatalf("edit after restore: %+v", d)
	}
}

func TestMaintenanceCommandHelpAndUsage(t *testing.T) {
	for name := range commands {
		code, _, errOut := runCmd(t, name, "-h")
		if code != 0 || !strings.Contains(errOut, "Usage: syncd "+name) || !strings.Contains(errOut, "-data") {
			t.Errorf("%s -h: %d %q", name, code, errOut)
		}
	}
	for _, args := range [][]string{
		{"backup"}, {"backup", "f.db"}, {"backup", "f.db", "-url", "http://x", "-data", "d"},
		{"restore", "f.db"}, {"inspect"}, {"inspect", "a", "b", "-data", "d"}, {"compact"},
		{"compact", "-data", "d", "extra"}, {"backup", "-nope"},
	} {
		if code, _, _ := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", args, code)
		}
	}
	if _, ok := lookupCommand([]string{"-addr", "x"}); ok {
		t.Fatal("a flag was taken for a command: plain syncd [flags] must keep serving")
	}
	// The real binary dispatches.
	out, err := exec.Command(syncdproc.Binary(t), "compact", "-h").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Usage: syncd compact") {
		t.Fatalf("syncd compact -h: %v %s", err, out)
	}
}
