package delta_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd/delta"
)

func mustParse(t tb, s string) *delta.Patch {
	t.Helper()
	p, err := delta.ParsePatch([]byte(s))
	if err != nil {
		p, err = delta.ParseMergePatch([]byte(s))
	}
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return p
}

func TestCompact(t *testing.T) {
	tests := []struct {
		in   []string
		want []string // MarshalJSON of the result
	}{
		{nil, nil},
		{[]string{`[{"op":"add","path":"/a","value":1}]`, `[]`, `[{"op":"move","from":"/a","path":"/b"}]`},
			[]string{`[{"op":"add","path":"/a","value":1},{"op":"move","from":"/a","path":"/b"}]`}},
		{[]string{`{"a":{"x":1}}`, `{"a":{"y":null},"b":2}`}, []string{`{"a":{"x":1,"y":null},"b":2}`}},
		{[]string{`{"a":1}`, `{"a":null}`}, []string{`{"a":null}`}},
		{[]string{`{"a":1}`, `[2]`}, []string{`[2]`}},
		{[]string{`{}`, `{"a":{"b":1}}`}, []string{`{"a":{"b":1}}`}},
		// Not expressible as one merge patch: left alone.
		{[]string{`{"a":1}`, `{"a":{"b":1}}`}, []string{`{"a":1}`, `{"a":{"b":1}}`}},
		{[]string{`{"a":null}`, `{"a":{"b":1}}`}, []string{`{"a":null}`, `{"a":{"b":1}}`}},
		{[]string{`{"a":{"b":[]}}`, `{"a":{"b":{"c":1}}}`}, []string{`{"a":{"b":[]}}`, `{"a":{"b":{"c":1}}}`}},
		{[]string{`"x"`, `{"a":1}`}, []string{`"x"`, `{"a":1}`}},
		// Kinds never mix; merges resume after a JSON Patch.
		{[]string{`{"a":1}`, `[]`, `{"b":1}`, `{"c":1}`}, []string{`{"a":1}`, `[]`, `{"b":1,"c":1}`}},
	}
	for _, tt := range tests {
		var ps []*delta.Patch
		for _, s := range tt.in {
			ps = append(ps, mustParse(t, s))
		}
		var got []string
		for _, p := range delta.Compact(ps) {
			b, err := p.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(b))
		}
		if len(got) != len(tt.want) {
			t.Errorf("Compact(%q) = %q, want %q", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("Compact(%q) = %q, want %q", tt.in, got, tt.want)
				break
			}
		}
	}
}

// applyAll applies ps in sequence to a copy of doc, all or nothing.
func applyAll(doc any, ps []*delta.Patch) (any, bool) {
	doc = delta.Clone(doc)
	for _, p := range ps {
		if _, err := p.Apply(&doc); err != nil {
			return nil, false
		}
	}
	return doc, true
}

// TestCompactProperty checks that Compact preserves the effect of a run of
// patches, success or failure included, also after a MarshalJSON round trip.
func TestCompactProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		doc := docGen.Draw(t, "doc")
		// Draw each patch against the document as the previous ones left
		// it, so that runs of JSON Patches often succeed.
		scratch := delta.Clone(doc)
		var ps []*delta.Patch
		for range rapid.IntRange(1, 6).Draw(t, "n") {
			var p *delta.Patch
			var err error
			if rapid.Bool().Draw(t, "merge") {
				p, err = delta.ParseMergePatch(drawMergePatch(t))
			} else {
				p, err = delta.ParseJSONPatch(drawJSONPatch(t, scratch))
			}
			if err != nil {
				continue
			}
			_, _ = p.Apply(&scratch)
			ps = append(ps, p)
		}
		want, wantOK := applyAll(doc, ps)
		cs := delta.Compact(ps)
		if len(cs) > len(ps) {
			t.Fatalf("Compact grew %d patches to %d", len(ps), len(cs))
		}
		for i := 1; i < len(cs); i++ {
			if cs[i-1].Kind() == delta.JSONPatch && cs[i].Kind() == delta.JSONPatch {
				t.Fatalf("JSON Patches %d and %d were not concatenated", i-1, i)
			}
		}
		got, gotOK := applyAll(doc, cs)
		if gotOK != wantOK || (wantOK && !sameJSON(got, want)) {
			t.Fatalf("compacted: %v %s; in sequence: %v %s", gotOK, encodeOrNil(got), wantOK, encodeOrNil(want))
		}
		// The compacted patches survive being stored and parsed again.
		var reparsed []*delta.Patch
		for _, c := range cs {
			b, err := c.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var p *delta.Patch
			if c.Kind() == delta.MergePatch {
				p, err = delta.ParseMergePatch(b)
			} else {
				p, err = delta.ParseJSONPatch(b)
			}
			if err != nil {
				t.Fatalf("reparse %s: %v", b, err)
			}
			reparsed = append(reparsed, p)
		}
		again, againOK := applyAll(doc, reparsed)
		if againOK != wantOK || (wantOK && !sameJSON(again, want)) {
			t.Fatalf("reparsed: %v %s; in sequence: %v %s", againOK, encodeOrNil(again), wantOK, encodeOrNil(want))
		}
	})
}

func encodeOrNil(v any) string {
	b, err := delta.Encode(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
