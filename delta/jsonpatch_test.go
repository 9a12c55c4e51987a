package delta_test

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd/delta"
)

func TestApplyPaths(t *testing.T) {
	const doc = `{"list":[{"title":"a"},{"title":"b"}],"obj":{"x":1,"arr":[1,2]},"s":"str"}`
	tests := []struct {
		patch string
		paths []string
	}{
		{`[{"op":"replace","path":"/obj/x","value":2}]`, []string{"/obj/x"}},
		{`[{"op":"replace","path":"/list/1/title","value":"c"}]`, []string{"/list"}},
		{`[{"op":"add","path":"/list/-","value":{}}]`, []string{"/list"}},
		{`[{"op":"add","path":"/list/0","value":{}}]`, []string{"/list"}},
		{`[{"op":"remove","path":"/obj/arr/0"}]`, []string{"/obj/arr"}},
		{`[{"op":"replace","path":"/list","value":[]}]`, []string{"/list"}},
		{`[{"op":"test","path":"/list/0/title","value":"a"}]`, []string{"/list"}},
		{`[{"op":"move","from":"/obj/x","path":"/y"}]`, []string{"/obj/x", "/y"}},
		{`[{"op":"copy","from":"/list/0","path":"/obj/first"}]`, []string{"/list", "/obj/first"}},
		{`[{"op":"add","path":"/obj/n","value":1},{"op":"remove","path":"/obj"}]`, []string{"/obj"}},
		{`[{"op":"replace","path":"","value":{}}]`, []string{""}},
		{`[{"op":"add","path":"/a~1b","value":1},{"op":"add","path":"/a~0b","value":1}]`, []string{"/a~0b", "/a~1b"}},
		{`[]`, nil},
		// The path is computed as applied: after the first op, "/s" is an
		// array, so the second op's path is cut there.
		{`[{"op":"replace","path":"/s","value":[1]},{"op":"add","path":"/s/0","value":0}]`, []string{"/s"}},
		{`[{"op":"replace","path":"/list","value":{"0":{}}},{"op":"add","path":"/list/0/t","value":0}]`, []string{"/list"}},
		{`[{"op":"move","from":"/obj","path":"/obj"}]`, []string{"/obj"}},
	}
	for _, tt := range tests {
		d := mustDecode(t, doc)
		p, err := delta.ParsePatch([]byte(tt.patch))
		if err != nil {
			t.Fatalf("%s: %v", tt.patch, err)
		}
		ch, err := p.Apply(&d)
		if err != nil {
			t.Fatalf("%s: %v", tt.patch, err)
		}
		if got := ch.Paths.Strings(); !slices.Equal(got, tt.paths) && (len(got) > 0 || len(tt.paths) > 0) {
			t.Errorf("%s: Paths = %q, want %q", tt.patch, got, tt.paths)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	const doc = `{"a":{"b":[1,2,3]},"s":"x"}`
	tests := []struct {
		patch    string
		sentinel error
		op       int
		field    string
		inMsg    string
	}{
		{`{"op":"add"}`, delta.ErrInvalidPatch, -1, "", "array"},
		{`[1]`, delta.ErrInvalidPatch, 0, "", "object"},
		{`[{"path":"/a"}]`, delta.ErrInvalidPatch, 0, "op", "missing"},
		{`[{"op":1,"path":"/a"}]`, delta.ErrInvalidPatch, 0, "op", "string"},
		{`[{"op":"remove","path":"/a"},{"op":"spam","path":"/a"}]`, delta.ErrInvalidPatch, 1, "op", `"spam"`},
		{`[{"op":"remove"}]`, delta.ErrInvalidPatch, 0, "path", "missing"},
		{`[{"op":"remove","path":null}]`, delta.ErrInvalidPatch, 0, "path", "string"},
		{`[{"op":"remove","path":"a"}]`, delta.ErrInvalidPatch, 0, "path", "'/'"},
		{`[{"op":"remove","path":"/a~2"}]`, delta.ErrInvalidPatch, 0, "path", "'~'"},
		{`[{"op":"add","path":"/a"}]`, delta.ErrInvalidPatch, 0, "value", "missing"},
		{`[{"op":"copy","path":"/a"}]`, delta.ErrInvalidPatch, 0, "from", "missing"},
		{`[{"op":"move","path":"/a","from":7}]`, delta.ErrInvalidPatch, 0, "from", "string"},
		{`[{"op":"move","from":"/a","path":"/a/b/c"}]`, delta.ErrInvalidPatch, 0, "from", "own child"},
		{`[{"op":"move","from":"","path":"/x"}]`, delta.ErrInvalidPatch, 0, "from", "own child"},
		{`[{"op":"remove","path":""}]`, delta.ErrInvalidPatch, 0, "path", "whole document"},
		{`[{"op":"remove","path":"/x"}]`, delta.ErrPathNotFound, 0, "path", `no member "x"`},
		{`[{"op":"add","path":"/x/y","value":1}]`, delta.ErrPathNotFound, 0, "path", `no member "x"`},
		{`[{"op":"add","path":"/s/y","value":1}]`, delta.ErrPathNotFound, 0, "path", "a string"},
		{`[{"op":"test","path":"/a/b/01","value":2}]`, delta.ErrPathNotFound, 0, "path", `"01"`},
		{`[{"op":"replace","path":"/a/b/-","value":2}]`, delta.ErrPathNotFound, 0, "path", `"-"`},
		{`[{"op":"add","path":"/a/b/4","value":2}]`, delta.ErrPathNotFound, 0, "path", "out of range"},
		{`[{"op":"remove","path":"/a/b/3"}]`, delta.ErrPathNotFound, 0, "path", "out of range"},
		{`[{"op":"remove","path":"/a/b/99999999999999999999"}]`, delta.ErrPathNotFound, 0, "path", "invalid array index"},
		{`[{"op":"copy","from":"/nope","path":"/x"}]`, delta.ErrPathNotFound, 0, "from", `no member "nope"`},
		{`[{"op":"move","from":"/a/b","path":"/nope/x"}]`, delta.ErrPathNotFound, 0, "path", `no member "nope"`},
		{`[{"op":"add","path":"/n","value":1},{"op":"test","path":"/n","value":"1"}]`, delta.ErrTestFailed, 1, "path", "differs"},
	}
	for _, tt := range tests {
		d := mustDecode(t, doc)
		before := mustEncode(t, d)
		p, err := delta.ParseJSONPatch([]byte(tt.patch))
		if err == nil {
			_, err = p.Apply(&d)
		}
		if err == nil {
			t.Errorf("%s: no error", tt.patch)
			continue
		}
		assertSentinel(t, err)
		var de *delta.Error
		errors.As(err, &de)
		if !errors.Is(err, tt.sentinel) || de.Op != tt.op || de.Field != tt.field || !strings.Contains(err.Error(), tt.inMsg) {
			t.Errorf("%s:\n got %v (op %d, field %q)\nwant %v, op %d, field %q, message containing %q",
				tt.patch, err, de.Op, de.Field, tt.sentinel, tt.op, tt.field, tt.inMsg)
		}
		if after := mustEncode(t, d); !bytes.Equal(before, after) {
			t.Errorf("%s: document changed to %s", tt.patch, after)
		}
	}
}

// TestApplyClonesPatchValues checks that a document never shares memory with
// the patch, which stays reusable.
func TestApplyClonesPatchValues(t *testing.T) {
	p, err := delta.ParsePatch([]byte(`[{"op":"add","path":"/a","value":{"list":[1]}}]`))
	if err != nil {
		t.Fatal(err)
	}
	var d1, d2 any = map[string]any{}, map[string]any{}
	if _, err := p.Apply(&d1); err != nil {
		t.Fatal(err)
	}
	d1.(map[string]any)["a"].(map[string]any)["list"].([]any)[0] = "changed"
	if _, err := p.Apply(&d2); err != nil {
		t.Fatal(err)
	}
	if got := string(mustEncode(t, d2)); got != `{"a":{"list":[1]}}` {
		t.Fatalf("second document = %s: the patch was modified through the first", got)
	}
}

// TestApplyProperties applies random patches, valid and not, to random
// documents and checks the laws: a failure leaves the document unchanged; a
// success gives what the reference model gives, with an exact SizeDelta and
// a path set that covers every change; Undo restores the document exactly;
// ParseJSONPatch accepts exactly the well-formed patches.
func TestApplyProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		doc := docGen.Draw(t, "doc")
		if rapid.Bool().Draw(t, "decoded") {
			// Decoded arrays have no spare capacity: every insert
			// reallocates.
			doc = mustDecode(t, string(mustEncode(t, doc)))
		}
		text := drawPatch(t, doc)
		checkApply(t, doc, text)
	})
}

func checkApply(t *rapid.T, doc any, text []byte) {
	orig := delta.Clone(doc)
	before := mustEncode(t, doc)
	raw := mustDecode(t, string(text))
	p, err := delta.ParsePatch(text)
	if list, isList := raw.([]any); isList {
		valid := !slices.ContainsFunc(list, func(o any) bool { return !modelValidOp(o) })
		if (err == nil) != valid {
			t.Fatalf("ParsePatch(%s) = %v, want valid=%v", text, err, valid)
		}
	}
	if err != nil {
		if !errors.Is(err, delta.ErrInvalidPatch) {
			t.Fatalf("ParsePatch: %v is not ErrInvalidPatch", err)
		}
		return
	}
	var want any
	wantOK := true
	if p.Kind() == delta.JSONPatch {
		want, wantOK = modelJSONPatch(orig, raw.([]any))
	} else {
		want = modelMergePatch(orig, raw)
	}

	ch, err := p.Apply(&doc)
	after := mustEncode(t, doc)
	if err != nil {
		assertSentinel(t, err)
		if errors.Is(err, delta.ErrInvalidPatch) {
			t.Fatalf("Apply found the patch invalid after parsing accepted it: %v", err)
		}
		if wantOK {
			t.Fatalf("Apply(%s) to %s: %v; the model gives %s", text, before, err, mustEncode(t, want))
		}
		if !bytes.Equal(before, after) || !reflect.DeepEqual(doc, orig) {
			t.Fatalf("failed Apply changed the document:\nbefore %s\nafter  %s", before, after)
		}
		return
	}
	if !wantOK {
		t.Fatalf("Apply(%s) to %s succeeded with %s; the model fails", text, before, after)
	}
	if !sameJSON(doc, want) {
		t.Fatalf("Apply(%s) to %s = %s; the model gives %s", text, before, after, mustEncode(t, want))
	}
	if ch.SizeDelta != len(after)-len(before) {
		t.Fatalf("SizeDelta = %d, want %d (%s -> %s)", ch.SizeDelta, len(after)-len(before), before, after)
	}
	if delta.Size(doc) != len(after) {
		t.Fatalf("Size = %d, len(Encode) = %d", delta.Size(doc), len(after))
	}
	for _, loc := range changedLocations(orig, doc, "", nil) {
		if !slices.ContainsFunc(ch.Paths.Strings(), func(p string) bool { return isPrefixPath(p, loc) }) {
			t.Fatalf("Apply(%s) to %s changed %q, outside its paths %v", text, before, loc, ch.Paths)
		}
	}
	ch.Undo(&doc)
	if undone := mustEncode(t, doc); !bytes.Equal(before, undone) || !reflect.DeepEqual(doc, orig) {
		t.Fatalf("Undo of %s gave %s, want %s", text, undone, before)
	}
}

// TestUndoChain applies several patches in a row and undoes them in reverse
// order, which must restore the original exactly: each Undo relies on the
// later ones having restored the arrays' backing stores.
func TestUndoChain(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		doc := docGen.Draw(t, "doc")
		if rapid.Bool().Draw(t, "decoded") {
			doc = mustDecode(t, string(mustEncode(t, doc)))
		}
		orig := delta.Clone(doc)
		before := mustEncode(t, doc)
		size := len(before)
		var changes []*delta.Change
		for range rapid.IntRange(1, 6).Draw(t, "patches") {
			p, err := delta.ParsePatch(drawPatch(t, doc))
			if err != nil {
				continue
			}
			ch, err := p.Apply(&doc)
			if err != nil {
				continue
			}
			size += ch.SizeDelta
			changes = append(changes, ch)
		}
		if got := len(mustEncode(t, doc)); got != size {
			t.Fatalf("sum of SizeDelta gives %d, encoded size is %d", size, got)
		}
		for i := len(changes) - 1; i >= 0; i-- {
			changes[i].Undo(&doc)
		}
		if undone := mustEncode(t, doc); !bytes.Equal(before, undone) || !reflect.DeepEqual(doc, orig) {
			t.Fatalf("undoing %d changes gave %s, want %s", len(changes), undone, before)
		}
	})
}

// TestArrayTruncation checks the array rule: any edit inside an array is
// recorded as the array, so two edits of different elements conflict.
func TestArrayTruncation(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 5).Draw(t, "n")
		list := make([]any, n)
		for i := range list {
			list[i] = map[string]any{"title": "t", "tags": []any{"x"}}
		}
		var doc any = map[string]any{"list": list, "other": "o"}
		edit := func(label string) delta.PathSet {
			i := rapid.IntRange(0, n-1).Draw(t, label+"Index")
			suffix := rapid.SampledFrom([]string{"", "/title", "/tags/0", "/tags/-"}).Draw(t, label+"Suffix")
			opName, value := "replace", "1"
			if strings.HasSuffix(suffix, "-") {
				opName = "add"
			}
			if suffix == "" {
				value = `{"title":"t","tags":["x"]}` // keep the shape for the next edit
			}
			text := `[{"op":"` + opName + `","path":"/list/` + strconv.Itoa(i) + suffix + `","value":` + value + `}]`
			p, err := delta.ParsePatch([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			ch, err := p.Apply(&doc)
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			if got := ch.Paths.Strings(); !slices.Equal(got, []string{"/list"}) {
				t.Fatalf("%s: Paths = %q, want [/list]", text, got)
			}
			return ch.Paths
		}
		a, b := edit("a"), edit("b")
		if !a.Overlaps(b) {
			t.Fatalf("%v and %v do not overlap", a, b)
		}
		other, _ := delta.NewPathSet("/other")
		if a.Overlaps(other) {
			t.Fatalf("%v overlaps %v", a, other)
		}
	})
}

// TestApplyConcurrent applies one parsed patch to several documents at once:
// a Patch is immutable, so this must be race-free (run with -race).
func TestApplyConcurrent(t *testing.T) {
	p := mustParse(t, `[{"op":"add","path":"/list/-","value":{"n":[1]}},{"op":"copy","from":"/list/0","path":"/first"}]`)
	m := mustParse(t, `{"meta":{"v":2,"gone":null}}`)
	done := make(chan error)
	for range 4 {
		go func() {
			var err error
			for range 100 {
				var doc any = map[string]any{"list": []any{}, "meta": map[string]any{"gone": true}}
				if _, err = p.Apply(&doc); err == nil {
					_, err = m.Apply(&doc)
				}
				if err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestUndoTwice(t *testing.T) {
	doc := mustDecode(t, `{"a":[1,2]}`)
	ch, err := mustParse(t, `[{"op":"remove","path":"/a/0"}]`).Apply(&doc)
	if err != nil {
		t.Fatal(err)
	}
	ch.Undo(&doc)
	ch.Undo(&doc)
	if got := string(mustEncode(t, doc)); got != `{"a":[1,2]}` {
		t.Fatalf("after two Undos: %s", got)
	}
}
