package delta_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/deltasync/syncd/delta"
)

// TestMergePatchRFC7396 runs every example of RFC 7396 Appendix A, and the
// example of its section 3, checking the result, the touched paths, the size
// delta and Undo.
func TestMergePatchRFC7396(t *testing.T) {
	tests := []struct {
		name, doc, patch, want string
		paths                  []string
	}{
		{"A1", `{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`, []string{"/a"}},
		{"A2", `{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`, []string{"/b"}},
		{"A3", `{"a":"b"}`, `{"a":null}`, `{}`, []string{"/a"}},
		{"A4", `{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`, []string{"/a"}},
		{"A5", `{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`, []string{"/a"}},
		{"A6", `{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`, []string{"/a"}},
		{"A7", `{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`, []string{"/a/b", "/a/c"}},
		{"A8", `{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`, []string{"/a"}},
		{"A9", `["a","b"]`, `["c","d"]`, `["c","d"]`, []string{""}},
		{"A10", `{"a":"b"}`, `["c"]`, `["c"]`, []string{""}},
		{"A11", `{"a":"foo"}`, `null`, `null`, []string{""}},
		{"A12", `{"a":"foo"}`, `"bar"`, `"bar"`, []string{""}},
		{"A13", `{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`, []string{"/a"}},
		{"A14", `[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`, []string{""}},
		{"A15", `{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`, []string{"/a"}},
		{"section3",
			`{"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"This will be unchanged"}`,
			`{"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]}`,
			`{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}`,
			[]string{"/author/familyName", "/phoneNumber", "/tags", "/title"}},
		// Not in the RFC: the cases the path rules single out.
		{"empty patch touches nothing", `{"a":{"b":1}}`, `{}`, `{"a":{"b":1}}`, nil},
		{"empty nested patch touches nothing", `{"a":{"b":1}}`, `{"a":{}}`, `{"a":{"b":1}}`, nil},
		{"empty patch on a non-object replaces it", `[1]`, `{}`, `{}`, []string{""}},
		{"object merged into a scalar member", `{"a":1}`, `{"a":{"b":null,"c":[null]}}`, `{"a":{"c":[null]}}`, []string{"/a"}},
		{"escaped names", `{}`, `{"a/b":{"c~d":1}}`, `{"a/b":{"c~d":1}}`, []string{"/a~1b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := mustDecode(t, tt.doc)
			before := mustEncode(t, doc)
			p, err := delta.ParseMergePatch([]byte(tt.patch))
			if err != nil {
				t.Fatal(err)
			}
			if p.Kind() != delta.MergePatch || p.Len() != 1 {
				t.Fatalf("Kind, Len = %v, %d", p.Kind(), p.Len())
			}
			ch, err := p.Apply(&doc)
			if err != nil {
				t.Fatal(err)
			}
			if want := mustDecode(t, tt.want); !delta.Equal(doc, want) {
				t.Fatalf("got %s, want %s", mustEncode(t, doc), tt.want)
			}
			if got := ch.Paths.Strings(); !slices.Equal(got, tt.paths) && (len(got) > 0 || len(tt.paths) > 0) {
				t.Errorf("Paths = %q, want %q", got, tt.paths)
			}
			after := mustEncode(t, doc)
			if ch.SizeDelta != len(after)-len(before) {
				t.Errorf("SizeDelta = %d, want %d", ch.SizeDelta, len(after)-len(before))
			}
			ch.Undo(&doc)
			if undone := mustEncode(t, doc); !bytes.Equal(undone, before) {
				t.Errorf("Undo gave %s, want %s", undone, before)
			}
		})
	}
}

func TestParsePatchKinds(t *testing.T) {
	tests := []struct {
		in   string
		kind delta.Kind
		ok   bool
	}{
		{`[]`, delta.JSONPatch, true},
		{` [{"op":"remove","path":"/a"}]`, delta.JSONPatch, true},
		{`{}`, delta.MergePatch, true},
		{"\n{\"a\":null}", delta.MergePatch, true},
		{`null`, 0, false},
		{`"x"`, 0, false},
		{`1`, 0, false},
		{``, 0, false},
		{`{} {}`, 0, false},
		{`[] x`, 0, false},
		{`{"a":`, 0, false},
	}
	for _, tt := range tests {
		p, err := delta.ParsePatch([]byte(tt.in))
		if !tt.ok {
			if err == nil {
				t.Errorf("ParsePatch(%q) succeeded", tt.in)
			} else if !errors.Is(err, delta.ErrInvalidPatch) {
				t.Errorf("ParsePatch(%q) = %v, want ErrInvalidPatch", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePatch(%q): %v", tt.in, err)
			continue
		}
		if p.Kind() != tt.kind {
			t.Errorf("ParsePatch(%q).Kind() = %v, want %v", tt.in, p.Kind(), tt.kind)
		}
	}
	// A merge patch may be any value, but only through ParseMergePatch.
	for _, in := range []string{`null`, `[1]`, `"x"`, `2`} {
		if _, err := delta.ParseMergePatch([]byte(in)); err != nil {
			t.Errorf("ParseMergePatch(%s): %v", in, err)
		}
	}
}
