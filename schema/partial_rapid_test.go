package schema_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/schema"
)

// TestPartialAgreesWithFull runs random edits against a small schema that
// allows the shortcut, starting from a valid document and keeping each
// accepted edit (as the engine does): checking only the changed members
// must accept exactly what checking the whole document accepts, and refuse
// with the same place and rule.
func TestPartialAgreesWithFull(t *testing.T) {
	// The same rules written flat and behind a root $ref.
	for _, file := range []string{"testdata/todo.json", "testdata/refroot.json"} {
		t.Run(file, func(t *testing.T) { partialAgreesWithFull(t, file) })
	}
}

func partialAgreesWithFull(t *testing.T, file string) {
	set, err := schema.Load(map[string]string{"t:": file})
	if err != nil {
		t.Fatal(err)
	}
	full, _ := schema.Compile(file)
	if !full.Partial() {
		t.Fatalf("%s: no shortcut", file)
	}
	names := []string{"title", "n", "tags", "x-a", "x-b", "other", "a/b"}
	values := []any{
		"abc", "too long a title", json.Number("3"), json.Number("-1"), json.Number("2.5"),
		true, nil, []any{}, []any{"a", "b"}, []any{"a", json.Number("1")}, []any{"a", "b", "c", "d"},
		map[string]any{"k": "v"},
	}
	rapid.Check(t, func(rt *rapid.T) {
		state := map[string]any{"title": "a"}
		checked := false
		for i := range rapid.IntRange(1, 20).Draw(rt, "edits") {
			next := maps.Clone(state)
			var pointers []string
			for range rapid.IntRange(1, 3).Draw(rt, "members") {
				name := rapid.SampledFrom(names).Draw(rt, "name")
				if rapid.IntRange(0, 3).Draw(rt, "op") == 0 {
					delete(next, name)
				} else {
					next[name] = rapid.SampledFrom(values).Draw(rt, "value")
				}
				p := "/" + escape(name)
				if rapid.Bool().Draw(rt, "deeper") {
					p += "/0" // an edit inside the member touches it too
				}
				pointers = append(pointers, p)
			}
			paths, err := delta.NewPathSet(pointers...)
			if err != nil {
				rt.Fatal(err)
			}
			got := set.Validate(context.Background(), &syncd.Validation{Doc: "t:1", State: next, Paths: paths, Checked: checked})
			want := full.ValidateAll(next)
			if (got == nil) != (want == nil) {
				rt.Fatalf("edit %d to %v: shortcut says %v, whole document says %v", i, next, got, want)
			}
			if got != nil {
				// The place and the rule must agree; the message may list
				// several members in the library's (map) order.
				var viol *syncd.Violation
				w := want.(*syncd.Violation)
				if !errors.As(got, &viol) || viol.InstancePath != w.InstancePath || viol.KeywordLocation != w.KeywordLocation {
					rt.Fatalf("edit %d: refusals differ: %v vs %v", i, got, want)
				}
				continue
			}
			state, checked = next, true
		}
	})
}

func escape(name string) string {
	out := []byte{}
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '~':
			out = append(out, "~0"...)
		case '/':
			out = append(out, "~1"...)
		default:
			out = append(out, name[i])
		}
	}
	return string(out)
}
