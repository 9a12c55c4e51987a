package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// -schema: parsing, the environment form, and a start that stops on a
// schema file that does not compile, naming it.

func TestSchemaFlag(t *testing.T) {
	m, err := parse(t, []string{"-schema", " todos:=schemas/todo.json , notes:=n.json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := m.Config.schemaFiles()
	if err != nil || len(files) != 2 || files["todos:"] != "schemas/todo.json" || files["notes:"] != "n.json" {
		t.Fatalf("schemaFiles %v %v", files, err)
	}
	m, err = parse(t, nil, map[string]string{"SYNCD_SCHEMA": "=all.json"})
	if err != nil {
		t.Fatal(err)
	}
	if files, _ := m.Config.schemaFiles(); files[""] != "all.json" {
		t.Fatalf("SYNCD_SCHEMA: %v (an empty prefix matches every document)", files)
	}
	for _, bad := range []string{"todos:", "todos:=", "a=x.json,a=y.json"} {
		if _, err := parse(t, []string{"-schema", bad}, nil); err == nil || !strings.Contains(err.Error(), "-schema") {
			t.Errorf("-schema %q: %v, want an error naming -schema", bad, err)
		}
	}
}

func TestSchemaThatDoesNotCompileStopsTheStart(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(`{"type":"object"}`), 0o644)
	os.WriteFile(bad, []byte(`{"type":"object","properties":{"a":{"minLength":"three"}}}`), 0o644)
	for _, file := range []string{bad, filepath.Join(dir, "missing.json")} {
		m := NewMain()
		m.Stderr = io.Discard
		m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if err := m.ParseFlags([]string{"-store", "memory", "-addr", "127.0.0.1:0", "-schema", "a/=" + good + ",b/=" + file}, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		err := m.Run(context.Background())
		if err == nil {
			m.Close()
			t.Fatalf("started with %s", file)
		}
		if !strings.Contains(err.Error(), file) {
			t.Fatalf("error %q does not name %s", err, file)
		}
	}
	// A good schema starts, and refuses an invalid document.
	m := boot(t, t.TempDir(), "-schema", "todos:="+writeSchemaFile(t, `{"type":"object","properties":{"n":{"type":"integer"}}}`))
	c := dialWS(t, wsURL(m), "", nil)
	c.send("JOIN", map[string]any{"doc": "todos:1"})
	c.expect("SYNC.SNAPSHOT", nil)
	c.edit("todos:1", "r1", map[string]any{"n": 1})
	c.send("UPDATE", map[string]any{"doc": "todos:1", "patch": map[string]any{"n": "one"}, "clientReqId": "r2"})
	var e struct {
		Code    string         `json:"code"`
		Details map[string]any `json:"details"`
	}
	c.expect("ERROR", &e)
	if e.Code != "INVALID_ARGUMENT" || e.Details["instancePath"] != "/n" || e.Details["keywordLocation"] != "/properties/n/type" {
		t.Fatalf("refusal %+v", e)
	}
}

func writeSchemaFile(t *testing.T, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}
