package schema_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd/schema"
)

// TestPartialNeverAcceptsWhatFullRefuses generates random schemas, mixing
// the top-level keywords the shortcut handles member by member with those
// it must refuse to shortcut, and random valid documents and edits of a few
// top-level members: whenever the shortcut is taken, it must refuse every
// edit that validating the whole document refuses.
func TestPartialNeverAcceptsWhatFullRefuses(t *testing.T) {
	dir := t.TempDir()
	n, compared := 0, 0
	defer func() { t.Logf("compared %d of %d schemas", compared, n) }()
	names := []string{"a", "b", "c", "x-1", "x-2", "long-name", ""}
	leaf := []any{
		"", "ab", "abcd", 0, 1, 5, -1, 2.5, true, false, nil,
		[]any{}, []any{1}, []any{1, 1}, []any{"a", 2}, []any{1, 2, 3},
		map[string]any{}, map[string]any{"a": 1}, map[string]any{"b": "ab", "a": "x"},
	}
	rapid.Check(t, func(rt *rapid.T) {
		sch := genRoot(rt, names)
		raw, err := json.Marshal(sch)
		if err != nil {
			rt.Fatal(err)
		}
		n++
		file := filepath.Join(dir, fmt.Sprintf("s%d.json", n))
		if err := os.WriteFile(file, raw, 0o644); err != nil {
			rt.Fatal(err)
		}
		s, err := schema.Compile(file)
		if err != nil {
			rt.Skip("does not compile:", err)
		}
		if !s.Partial() {
			return // no shortcut: nothing to compare
		}
		// A valid starting document.
		var prev map[string]any
		for range 8 {
			d := map[string]any{}
			for _, name := range names {
				if rapid.Bool().Draw(rt, "has") {
					d[name] = reencode(rt, genValue(rt, leaf, 2))
				}
			}
			if s.ValidateAll(d) == nil {
				prev = d
				break
			}
		}
		if prev == nil {
			return
		}
		next := maps.Clone(prev)
		var changed []string
		for range rapid.IntRange(1, 3).Draw(rt, "members") {
			name := rapid.SampledFrom(names).Draw(rt, "name")
			if rapid.IntRange(0, 3).Draw(rt, "op") == 0 {
				delete(next, name)
			} else {
				next[name] = reencode(rt, genValue(rt, leaf, 2))
			}
			if !slices.Contains(changed, name) {
				changed = append(changed, name)
			}
		}
		compared++
		partial := s.ValidateChanged(next, changed, false)
		full := s.ValidateAll(next)
		if (partial == nil) != (full == nil) {
			p, _ := json.Marshal(prev)
			x, _ := json.Marshal(next)
			rt.Fatalf("schema %s\nfrom %s to %s (changed %q): shortcut %v, whole document %v", raw, p, x, changed, partial, full)
		}
	})
}

// reencode turns a generated value into what the engine holds (numbers as
// json.Number).
func reencode(rt *rapid.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		rt.Fatal(err)
	}
	var out any
	if err := decodeNumbers(b, &out); err != nil {
		rt.Fatal(err)
	}
	return out
}

func genValue(rt *rapid.T, leaf []any, depth int) any {
	if depth == 0 || rapid.IntRange(0, 3).Draw(rt, "nest") != 0 {
		return rapid.SampledFrom(leaf).Draw(rt, "leaf")
	}
	if rapid.Bool().Draw(rt, "arr") {
		var a []any
		for range rapid.IntRange(0, 3).Draw(rt, "len") {
			a = append(a, genValue(rt, leaf, depth-1))
		}
		if a == nil {
			a = []any{}
		}
		return a
	}
	m := map[string]any{}
	for range rapid.IntRange(0, 3).Draw(rt, "len") {
		m[rapid.SampledFrom([]string{"a", "b", "c"}).Draw(rt, "k")] = genValue(rt, leaf, depth-1)
	}
	return m
}

// genSub is a schema for a member (any keyword: the shortcut validates it
// with the library).
func genSub(rt *rapid.T, depth int) any {
	kinds := []string{"type", "minLength", "maximum", "items", "prefixItems", "contains", "uniqueItems",
		"const", "enum", "refRoot", "refDef", "bool", "object", "not", "anyOf", "if", "unevaluated", "dynamic"}
	k := rapid.SampledFrom(kinds).Draw(rt, "subkind")
	if depth == 0 {
		k = rapid.SampledFrom(kinds[:3]).Draw(rt, "subkind0")
	}
	switch k {
	case "type":
		return map[string]any{"type": rapid.SampledFrom([]string{"string", "integer", "number", "array", "object", "boolean", "null"}).Draw(rt, "t")}
	case "minLength":
		return map[string]any{"minLength": rapid.IntRange(0, 3).Draw(rt, "ml")}
	case "maximum":
		return map[string]any{"maximum": rapid.IntRange(0, 3).Draw(rt, "mx")}
	case "items":
		return map[string]any{"items": genSub(rt, depth-1)}
	case "prefixItems":
		return map[string]any{"prefixItems": []any{genSub(rt, depth-1)}, "items": rapid.Bool().Draw(rt, "pi")}
	case "contains":
		return map[string]any{"contains": genSub(rt, depth-1), "maxContains": 1}
	case "uniqueItems":
		return map[string]any{"uniqueItems": true}
	case "const":
		return map[string]any{"const": rapid.SampledFrom([]any{1, "ab", true}).Draw(rt, "c")}
	case "enum":
		return map[string]any{"enum": []any{1, "ab", nil}}
	case "refRoot":
		return map[string]any{"$ref": "#"}
	case "refDef":
		return map[string]any{"$ref": "#/$defs/d"}
	case "bool":
		return rapid.Bool().Draw(rt, "b")
	case "object":
		return map[string]any{"properties": map[string]any{"a": genSub(rt, depth-1)}, "required": []string{"b"}}
	case "not":
		return map[string]any{"not": genSub(rt, depth-1)}
	case "anyOf":
		return map[string]any{"anyOf": []any{genSub(rt, depth-1), genSub(rt, depth-1)}}
	case "if":
		return map[string]any{"if": genSub(rt, depth-1), "then": genSub(rt, depth-1)}
	case "dynamic":
		// A schema resource of its own whose $dynamicRef the root's
		// $dynamicAnchor may take over.
		return map[string]any{
			"$id":   fmt.Sprintf("urn:sub:%d", rapid.IntRange(0, 1<<30).Draw(rt, "id")),
			"$defs": map[string]any{"l": map[string]any{"$dynamicAnchor": "item"}},
			"items": map[string]any{"$dynamicRef": "#item"},
		}
	default:
		return map[string]any{"properties": map[string]any{"a": true}, "unevaluatedProperties": false}
	}
}

// genRoot is a root schema: some of the member-wise keywords, sometimes a
// keyword that looks at the whole, sometimes all of it behind a $ref.
func genRoot(rt *rapid.T, names []string) map[string]any {
	r := map[string]any{}
	if rapid.Bool().Draw(rt, "type") {
		r["type"] = rapid.SampledFrom([]any{"object", []any{"object", "null"}, "array"}).Draw(rt, "roottype")
	}
	if rapid.Bool().Draw(rt, "properties") {
		p := map[string]any{}
		for _, n := range names[:rapid.IntRange(1, 4).Draw(rt, "np")] {
			p[n] = genSub(rt, 2)
		}
		r["properties"] = p
	}
	if rapid.Bool().Draw(rt, "patternProperties") {
		r["patternProperties"] = map[string]any{"^x-": genSub(rt, 2), "e": genSub(rt, 1)}
	}
	if rapid.Bool().Draw(rt, "additionalProperties") {
		if rapid.Bool().Draw(rt, "apbool") {
			r["additionalProperties"] = rapid.Bool().Draw(rt, "ap")
		} else {
			r["additionalProperties"] = genSub(rt, 2)
		}
	}
	if rapid.Bool().Draw(rt, "propertyNames") {
		r["propertyNames"] = rapid.SampledFrom([]any{
			map[string]any{"maxLength": 3}, map[string]any{"pattern": "^[a-c]"}, map[string]any{"minLength": 1},
		}).Draw(rt, "pn")
	}
	if rapid.IntRange(0, 2).Draw(rt, "required") == 0 {
		r["required"] = rapid.SliceOfNDistinct(rapid.SampledFrom(names), 1, 2, rapid.ID[string]).Draw(rt, "req")
	}
	if rapid.IntRange(0, 2).Draw(rt, "dependentRequired") == 0 {
		r["dependentRequired"] = map[string]any{rapid.SampledFrom(names).Draw(rt, "dr"): []string{rapid.SampledFrom(names).Draw(rt, "drn")}}
	}
	if rapid.IntRange(0, 2).Draw(rt, "minProperties") == 0 {
		r["minProperties"] = rapid.IntRange(0, 3).Draw(rt, "minp")
	}
	if rapid.IntRange(0, 2).Draw(rt, "maxProperties") == 0 {
		r["maxProperties"] = rapid.IntRange(1, 5).Draw(rt, "maxp")
	}
	// Keywords that must rule the shortcut out (and array keywords, which
	// do not apply to an object).
	if rapid.IntRange(0, 3).Draw(rt, "whole") == 0 {
		switch rapid.IntRange(0, 11).Draw(rt, "wholekind") {
		case 0:
			r["allOf"] = []any{map[string]any{"required": []string{"a"}}}
		case 1:
			r["anyOf"] = []any{map[string]any{"required": []string{"a"}}, map[string]any{"required": []string{"b"}}}
		case 2:
			r["oneOf"] = []any{map[string]any{"required": []string{"a"}}, map[string]any{"required": []string{"b"}}}
		case 3:
			r["not"] = map[string]any{"required": []string{"c"}}
		case 4:
			r["if"] = map[string]any{"required": []string{"a"}}
			r["then"] = map[string]any{"required": []string{"b"}}
			r["else"] = map[string]any{"maxProperties": 1}
		case 5:
			r["unevaluatedProperties"] = false
		case 6:
			r["dependentSchemas"] = map[string]any{"a": map[string]any{"required": []string{"c"}}}
		case 7:
			r["contains"] = genSub(rt, 1)
			r["uniqueItems"] = true
		case 8:
			r["prefixItems"] = []any{genSub(rt, 1)}
			r["items"] = genSub(rt, 1)
		case 9:
			r["const"] = map[string]any{}
		case 10:
			r["enum"] = []any{map[string]any{"a": 1}}
		case 11:
			r["$ref"] = "#/$defs/d"
		}
	}
	defs := map[string]any{"d": genSub(rt, 1)}
	if rapid.Bool().Draw(rt, "anchor") {
		defs["anchor"] = map[string]any{"$dynamicAnchor": "item", "type": "string"}
	}
	if rapid.IntRange(0, 2).Draw(rt, "behindRef") == 0 {
		defs["root"] = r
		return map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": "#/$defs/root", "$defs": defs}
	}
	r["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	r["$defs"] = defs
	return r
}

func decodeNumbers(b []byte, out *any) error {
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	return d.Decode(out)
}
