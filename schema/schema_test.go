package schema_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/schema"
)

// decode reads JSON as the engine holds it: numbers as json.Number.
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPrefixLongestWins(t *testing.T) {
	set, err := schema.Load(map[string]string{
		"todos:":      "testdata/todo.json",
		"todos:big:":  "testdata/whole.json",
		"todos:bigx":  "testdata/todo.json",
		"notes/":      "testdata/whole.json",
		"todos:big:z": "testdata/todo.json",
	})
	if err != nil {
		t.Fatal(err)
	}
	for doc, want := range map[string]string{
		"todos:1":       "testdata/todo.json",
		"todos:big:1":   "testdata/whole.json",
		"todos:big:z1":  "testdata/todo.json",
		"todos:bigx":    "testdata/todo.json",
		"notes/a":       "testdata/whole.json",
		"todos":         "",
		"other":         "",
		"xtodos:big:z1": "",
	} {
		got := ""
		if s := set.For(doc); s != nil {
			got = s.File()
		}
		if got != want {
			t.Errorf("For(%q) = %q, want %q", doc, got, want)
		}
	}
}

func TestCompileErrorNamesTheFile(t *testing.T) {
	for _, file := range []string{"testdata/broken.json", "testdata/missing.json", "main_test.go"} {
		_, err := schema.Load(map[string]string{"a/": "testdata/todo.json", "b/": file})
		if err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("Load with %s: %v, want an error naming the file", file, err)
		}
	}
}

func TestPartialOnlyWhereTheSchemaAllows(t *testing.T) {
	todo, err := schema.Compile("testdata/todo.json")
	if err != nil {
		t.Fatal(err)
	}
	whole, err := schema.Compile("testdata/whole.json")
	if err != nil {
		t.Fatal(err)
	}
	if !todo.Partial() || whole.Partial() {
		t.Fatalf("Partial: todo %v (want true), whole %v (want false: if/then looks at the object)", todo.Partial(), whole.Partial())
	}
	// The shortcut trusts the members an edit did not change; a schema
	// with if/then does not get it: b's absence is caught though the edit
	// changed only a.
	if err := whole.ValidateChanged(decode(t, `{"a":1}`), []string{"a"}, false); err == nil {
		t.Fatal("if/then schema: a without b passed")
	}
}

func TestViolationNamesPlaceAndRule(t *testing.T) {
	set, err := schema.Load(map[string]string{"todos:": "testdata/todo.json"})
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := delta.NewPathSet("/tags/1")
	state := decode(t, `{"title":"ok","tags":["a",2]}`)
	for _, checked := range []bool{false, true} {
		err = set.Validate(context.Background(), &syncd.Validation{Doc: "todos:1", State: state, Paths: paths, Checked: checked})
		var ee *syncd.Error
		var viol *syncd.Violation
		if !errors.As(err, &ee) || ee.Code != syncd.CodeInvalid || !errors.As(err, &viol) {
			t.Fatalf("checked=%v: %v, want CodeInvalid with a Violation", checked, err)
		}
		if viol.InstancePath != "/tags/1" || viol.KeywordLocation != "/properties/tags/items/type" {
			t.Fatalf("checked=%v: violation %+v", checked, viol)
		}
		if !strings.Contains(err.Error(), "testdata/todo.json") {
			t.Fatalf("error %q does not name the schema", err)
		}
	}
	// A document no prefix matches is not checked.
	if err := set.Validate(context.Background(), &syncd.Validation{Doc: "other", State: state, Paths: paths}); err != nil {
		t.Fatal(err)
	}
}
