package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	docschema "github.com/deltasync/syncd/schema"
	"github.com/deltasync/syncd/server"
)

// Documents checked against a JSON Schema (-schema): over a real server,
// an edit that would make the document invalid is refused INVALID_ARGUMENT
// with the place and the rule in the details, the refusal is a decision
// (the id is not applied later), and a valid edit commits.
func TestSchemaRefusesInvalidEdits(t *testing.T) {
	file := filepath.Join(t.TempDir(), "todo.json")
	os.WriteFile(file, []byte(`{
		"type": "object",
		"properties": {
			"title": {"type": "string", "maxLength": 20},
			"done": {"type": "boolean"}
		},
		"additionalProperties": false
	}`), 0o644)
	set, err := docschema.Load(map[string]string{"todos:": file})
	if err != nil {
		t.Fatal(err)
	}
	ev := newEnv(t, syncd.Options{Validate: set.Validate}, server.Options{APIKey: apiKey})
	const doc = "todos:1"
	c := ev.dial("")
	c.join(doc)

	c.update(doc, map[string]any{"title": "buy milk"}, "r1")
	c.ack("r1")

	c.update(doc, map[string]any{"done": "yes"}, "r2")
	p := c.expectError(protocol.CodeInvalidArgument)
	updateDetails(t, p, doc, "r2")
	var details struct{ InstancePath, KeywordLocation string }
	json.Unmarshal(p.Details, &details)
	if details.InstancePath != "/done" || details.KeywordLocation != "/properties/done/type" {
		t.Fatalf("details %s: want instancePath /done, keywordLocation /properties/done/type", p.Details)
	}
	// The refusal was a decision: the same id, now valid, is a duplicate.
	c.update(doc, map[string]any{"done": true}, "r2")
	updateDetails(t, c.expectError(protocol.CodeAlreadyExists), doc, "r2")

	c.update(doc, []any{map[string]any{"op": "add", "path": "/extra", "value": 1}}, "r3")
	p = c.expectError(protocol.CodeInvalidArgument)
	json.Unmarshal(p.Details, &details)
	if details.KeywordLocation != "/additionalProperties" {
		t.Fatalf("details %s", p.Details)
	}

	c.update(doc, map[string]any{"done": true}, "r4")
	c.ack("r4")
	if got := ev.state(doc); got["title"] != "buy milk" || got["done"] != true || len(got) != 2 {
		t.Fatalf("state %v", got)
	}

	// The HTTP API refuses the same way, with the same details.
	b := ev.api("POST", "/v1/docs/todos:1/edits", map[string]any{"patch": map[string]any{"title": 7}}, 400)
	p = apiError(t, b)
	json.Unmarshal(p.Details, &details)
	if p.Code != protocol.CodeInvalidArgument || details.InstancePath != "/title" || details.KeywordLocation != "/properties/title/type" {
		t.Fatalf("HTTP refusal %s", b)
	}
	// Documents outside the prefix are not checked.
	c.join("notes:1")
	c.update("notes:1", map[string]any{"anything": 1}, "r5")
	c.ack("r5")
}
