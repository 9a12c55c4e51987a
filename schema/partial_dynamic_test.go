package schema_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/deltasync/syncd/schema"
)

// TestPartialDynamicScope: a member's subschema that is a schema resource
// of its own ($id) and uses $dynamicRef resolves it, in a whole-document
// validation, against the outermost resource of the dynamic scope, which
// is the root: the root's "$dynamicAnchor": "item" (here requiring a
// string) wins over the member resource's own (anything goes). Validating
// the member on its own starts the dynamic scope at the member, so the
// shortcut must not accept what the whole document refuses.
func TestPartialDynamicScope(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dyn.json")
	os.WriteFile(file, []byte(`{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$defs": {"strict": {"$dynamicAnchor": "item", "type": "string"}},
  "properties": {
    "p": {
      "$id": "urn:example:list",
      "$defs": {"loose": {"$dynamicAnchor": "item"}},
      "type": "array",
      "items": {"$dynamicRef": "#item"}
    }
  }
}`), 0o644)
	s, err := schema.Compile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ValidateAll(decode(t, `{}`)); err != nil {
		t.Fatalf("{} refused: %v", err)
	}
	next := decode(t, `{"p": [1]}`)
	full := s.ValidateAll(next)
	if full == nil {
		t.Fatal("the library resolves $dynamicRef statically; nothing to test")
	}
	if got := s.ValidateChanged(next, []string{"p"}, false); got == nil {
		t.Fatalf("partial=%v: the shortcut accepts {\"p\":[1]}, which the whole document refuses: %v", s.Partial(), full)
	}
}
