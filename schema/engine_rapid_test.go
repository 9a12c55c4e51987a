package schema_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/schema"
	"github.com/deltasync/syncd/store/memstore"
)

// TestEngineHookAgreesWithFull drives a real engine with random JSON Patch
// and merge patch edits (moves and copies included, whose paths the engine
// reports) and checks, inside the hook, that the engine's answer through
// the shortcut is the answer of checking the whole resulting document.
func TestEngineHookAgreesWithFull(t *testing.T) {
	set, err := schema.Load(map[string]string{"t:": "testdata/todo.json"})
	if err != nil {
		t.Fatal(err)
	}
	full, _ := schema.Compile("testdata/todo.json")
	names := []string{"title", "n", "tags", "x-a", "x-b", "other"}
	values := []any{"abc", "too long a title", 3, -1, true, nil, []any{"a"}, []any{"a", 1}, map[string]any{"k": "v"}}
	rapid.Check(t, func(rt *rapid.T) {
		var disagreements []string
		st := memstore.New(memstore.Options{})
		e, err := syncd.Open(st, syncd.Options{Validate: func(ctx context.Context, v *syncd.Validation) error {
			got := set.Validate(ctx, v)
			want := full.ValidateAll(v.State)
			if (got == nil) != (want == nil) {
				b, _ := json.Marshal(v.State)
				disagreements = append(disagreements, string(b)+" paths "+v.Paths.String())
			}
			return got
		}})
		if err != nil {
			rt.Fatal(err)
		}
		defer st.Close()
		defer e.Close()
		ctx := context.Background()
		if _, err := e.Commit(ctx, "t:1", syncd.Edit{Patch: json.RawMessage(`{"title":"a"}`)}); err != nil {
			rt.Fatal(err)
		}
		for range rapid.IntRange(1, 25).Draw(rt, "edits") {
			var patch any
			name := rapid.SampledFrom(names).Draw(rt, "name")
			value := rapid.SampledFrom(values).Draw(rt, "value")
			switch rapid.IntRange(0, 5).Draw(rt, "kind") {
			case 0:
				patch = map[string]any{name: value}
			case 1:
				patch = []any{map[string]any{"op": "add", "path": "/" + name, "value": value}}
			case 2:
				patch = []any{map[string]any{"op": "remove", "path": "/" + name}}
			case 3:
				patch = []any{map[string]any{"op": "move", "from": "/" + name, "path": "/" + rapid.SampledFrom(names).Draw(rt, "to")}}
			case 4:
				patch = []any{map[string]any{"op": "copy", "from": "/" + name, "path": "/" + rapid.SampledFrom(names).Draw(rt, "to")}}
			case 5:
				patch = []any{map[string]any{"op": "add", "path": "/" + name + "/-", "value": value}}
			}
			raw, _ := json.Marshal(patch)
			_, err := e.Commit(ctx, "t:1", syncd.Edit{Patch: raw})
			var ee *syncd.Error
			if err != nil && (!errors.As(err, &ee) || (ee.Code != syncd.CodeInvalid && ee.Code != syncd.CodePrecondition)) {
				rt.Fatalf("edit %s: %v", raw, err)
			}
		}
		if len(disagreements) > 0 {
			rt.Fatalf("the shortcut and the whole check disagree on: %v", disagreements)
		}
	})
}
