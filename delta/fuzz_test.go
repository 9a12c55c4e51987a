package delta_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/deltasync/syncd/delta"
)

// addSuiteSeeds seeds a fuzz target with documents and patches of the JSON
// Patch test suite, plus merge patches.
func addSuiteSeeds(f *testing.F, add func(doc, patch []byte)) {
	for _, file := range []string{"tests.json", "spec_tests.json"} {
		for _, r := range loadSuite(f, file) {
			add(mustEncode(f, r.doc), r.patch)
		}
	}
	add([]byte(`{"a":"b","c":{"d":"e","f":"g"}}`), []byte(`{"a":"z","c":{"f":null}}`))
	add([]byte(`[1,2]`), []byte(`{"a":{"bb":{"ccc":null}}}`))
	add([]byte(`{"list":[{"t":1},{"t":2}]}`), []byte(`[{"op":"move","from":"/list/0","path":"/list/-"},{"op":"test","path":"/list/1/t","value":1.0}]`))
}

// FuzzApply: no panic; a failed Apply leaves the document unchanged; a
// successful one has an exact SizeDelta and Undo restores the document.
func FuzzApply(f *testing.F) {
	addSuiteSeeds(f, func(doc, patch []byte) { f.Add(doc, patch) })
	f.Fuzz(func(t *testing.T, docText, patchText []byte) {
		doc, err := delta.Decode(docText)
		if err != nil {
			return
		}
		p, err := delta.ParsePatch(patchText)
		if err != nil {
			if !errors.Is(err, delta.ErrInvalidPatch) {
				t.Fatalf("ParsePatch: %v is not ErrInvalidPatch", err)
			}
			return
		}
		orig := delta.Clone(doc)
		before := mustEncode(t, doc)
		ch, err := p.Apply(&doc)
		after := mustEncode(t, doc)
		if err != nil {
			assertSentinel(t, err)
			if !bytes.Equal(before, after) || !reflect.DeepEqual(doc, orig) {
				t.Fatalf("failed Apply changed %s to %s", before, after)
			}
			reusedChange.Lock()
			defer reusedChange.Unlock()
			if err := p.ApplyTo(&doc, &reusedChange.Change); err == nil {
				t.Fatal("ApplyTo succeeded where Apply failed")
			}
			if !reflect.DeepEqual(doc, orig) || reusedChange.Paths.Len() != 0 || reusedChange.SizeDelta != 0 {
				t.Fatalf("failed ApplyTo changed %s to %s, or left a change", before, mustEncode(t, doc))
			}
			return
		}
		if ch.SizeDelta != len(after)-len(before) {
			t.Fatalf("SizeDelta = %d, want %d", ch.SizeDelta, len(after)-len(before))
		}
		ch.Undo(&doc)
		if undone := mustEncode(t, doc); !bytes.Equal(before, undone) || !reflect.DeepEqual(doc, orig) {
			t.Fatalf("Undo gave %s, want %s", undone, before)
		}
		checkApplyTo(t, orig, patchText, after, ch)
	})
}

// reusedChange is the Change FuzzApply's checkApplyTo reuses from input to
// input, as a server reuses one per document.
var reusedChange struct {
	sync.Mutex
	delta.Change
}

// checkApplyTo: ApplyTo into a reused Change, of a patch parsed into the
// memory of a released one, does what Apply did (want, wantCh), and so
// does its Undo.
func checkApplyTo(t *testing.T, orig any, patchText, want []byte, wantCh *delta.Change) {
	t.Helper()
	reusedChange.Lock()
	defer reusedChange.Unlock()
	c := &reusedChange.Change
	p, err := delta.ParsePatch(patchText)
	if err != nil {
		t.Fatalf("ParsePatch failed the second time: %v", err)
	}
	wantJSON, _ := p.MarshalJSON()
	p.Release()
	p, _ = delta.ParsePatch(patchText) // likely into the released memory
	defer p.Release()
	if got, _ := p.MarshalJSON(); !bytes.Equal(got, wantJSON) {
		t.Fatalf("reparsed patch marshals as %s, want %s", got, wantJSON)
	}
	doc := delta.Clone(orig)
	if err := p.ApplyTo(&doc, c); err != nil {
		t.Fatalf("ApplyTo: %v, Apply succeeded", err)
	}
	if got := mustEncode(t, doc); !bytes.Equal(got, want) {
		t.Fatalf("ApplyTo gave %s, Apply %s", got, want)
	}
	if c.SizeDelta != wantCh.SizeDelta || c.Paths.String() != wantCh.Paths.String() {
		t.Fatalf("ApplyTo's change is %d %v, Apply's %d %v", c.SizeDelta, c.Paths, wantCh.SizeDelta, wantCh.Paths)
	}
	c.Undo(&doc)
	if !reflect.DeepEqual(doc, orig) {
		t.Fatalf("Undo after ApplyTo gave %s", mustEncode(t, doc))
	}
	c.Reset()
}

// FuzzParsePatch: no panic; errors are ErrInvalidPatch; an accepted patch
// marshals to JSON that parses to a patch marshalling identically.
func FuzzParsePatch(f *testing.F) {
	addSuiteSeeds(f, func(_, patch []byte) { f.Add(patch) })
	f.Add([]byte(`[{"op":"move","from":"/a","path":"/a/b"}]`))
	f.Add([]byte(`[{"op":"remove","path":"/a~2"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := delta.ParsePatch(data)
		if err != nil {
			assertSentinel(t, err)
			if !errors.Is(err, delta.ErrInvalidPatch) {
				t.Fatalf("ParsePatch: %v is not ErrInvalidPatch", err)
			}
			return
		}
		b, err := p.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		q, err := delta.ParsePatch(b)
		if err != nil {
			t.Fatalf("ParsePatch(MarshalJSON) = %v for %s", err, b)
		}
		if q.Kind() != p.Kind() || q.Len() != p.Len() {
			t.Fatalf("reparsed patch differs: %v/%d vs %v/%d", q.Kind(), q.Len(), p.Kind(), p.Len())
		}
		if c, _ := q.MarshalJSON(); !bytes.Equal(b, c) {
			t.Fatalf("MarshalJSON is not stable: %s then %s", b, c)
		}
	})
}

// FuzzDecode: Decode accepts exactly valid JSON; Size matches Encode; Encode
// matches encoding/json and is stable under a round trip.
func FuzzDecode(f *testing.F) {
	addSuiteSeeds(f, func(doc, _ []byte) { f.Add(doc) })
	for _, s := range []string{`"\ud800"`, "\"\xff\"", `1e400`, `-0.0e-0`, `{"a":1,"a":2}`, `[] x`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := delta.Decode(data)
		if (err == nil) != json.Valid(data) {
			t.Fatalf("Decode error %v, but json.Valid = %v", err, json.Valid(data))
		}
		if err != nil {
			return
		}
		enc := mustEncode(t, v)
		if delta.Size(v) != len(enc) {
			t.Fatalf("Size = %d, len(Encode) = %d", delta.Size(v), len(enc))
		}
		var std bytes.Buffer
		e := json.NewEncoder(&std)
		e.SetEscapeHTML(false)
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
		if want := bytes.TrimSuffix(std.Bytes(), []byte("\n")); !bytes.Equal(enc, want) {
			t.Fatalf("Encode = %s, encoding/json = %s", enc, want)
		}
		back, err := delta.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode) = %v for %s", err, enc)
		}
		if !delta.Equal(v, back) || !bytes.Equal(mustEncode(t, back), enc) {
			t.Fatalf("round trip changed %s", enc)
		}
	})
}

// FuzzCompactJSON: two merge patches given to a Compactor as text, which
// composes them straight from the text (raw values, undo on a late
// conflict, repeated names), have the effect of the parsed patches applied
// in sequence, on a few documents; a patch that does not parse is refused
// and leaves the run as it was.
func FuzzCompactJSON(f *testing.F) {
	for _, s := range [][2]string{
		{`{"a":{"x":1}}`, `{"a":{"y":2},"b":null}`},
		{`{"a":{"x":1},"b":2}`, `{"c":1,"b":{"y":1}}`},
		{`{"a":{"x":1}}`, `{"a":{"y":1},"a":{"z":2}}`},
		{`{"a":null}`, `{"a":{"b":[1,{"c":"\u00e9"}]}}`},
		{`[1]`, `{"a":1}`},
		{`{"a":1}`, `{"c":1,"a":}`},
		{`{}`, ` {"a" : -0.5e3 , "b":"\"x\""} `},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	docs := []string{`{}`, `{"a":{"x":0,"w":[1]},"b":{"q":1},"c":true}`, `{"a":"s","b":null}`, `[1]`}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		pa, err := delta.ParseMergePatch(a)
		if err != nil {
			return
		}
		var c delta.Compactor
		if err := c.AddJSON(delta.MergePatch, a); err != nil {
			t.Fatalf("AddJSON(%s): %v; it parses", a, err)
		}
		pb, errB := delta.ParseMergePatch(b)
		if err := c.AddJSON(delta.MergePatch, b); (err == nil) != (errB == nil) {
			t.Fatalf("AddJSON(%s): %v; ParseMergePatch: %v", b, err, errB)
		}
		ps := []*delta.Patch{pa}
		if errB == nil {
			ps = append(ps, pb)
		}
		var combined []*delta.Patch
		n := 0
		for _, r := range c.Runs() {
			combined = append(combined, r.Patch())
			n += r.N
		}
		if n != len(ps) {
			t.Fatalf("runs cover %d of %d patches", n, len(ps))
		}
		for _, d := range docs {
			doc, _ := delta.Decode([]byte(d))
			want, _ := applyAll(doc, ps)
			got, _ := applyAll(doc, combined)
			if !sameJSON(got, want) {
				t.Fatalf("%s then %s on %s: combined %s, in sequence %s", a, b, d, encodeOrNil(got), encodeOrNil(want))
			}
		}
	})
}

// FuzzComposeMerge: merge patches given as text, composed from the newest
// back (repeated names, escapes, white space and all), have the effect of
// the parsed patches applied in sequence whenever ComposeMerge finds a
// composition; a patch that does not parse is never composed.
func FuzzComposeMerge(f *testing.F) {
	for _, s := range [][3]string{
		{`{"a":{"x":1}}`, `{"a":{"y":2},"b":null}`, `{"a":{"x":null}}`},
		{`{"a":{"x":1},"b":2}`, `{"c":1,"b":{"y":1}}`, `{"b":3}`},
		{`{"a":{"x":1}}`, `{"a":{"y":1},"a":{"z":2}}`, `{}`},
		{`{"a":{"z":1}}`, `{"a":{"y":1,"y":{"q":2}}}`, `{"b":[1,{"c":"\u00e9"}]}`},
		{`{"\u0061":1}`, `{"a":{"b":2}}`, `{"a":3}`},
		{`[1]`, `{"a":1}`, `{"a":}`},
		{`{}`, ` {"a" : -0.5e3 , "b":"\"x\""} `, `{"a":{"\t":"\""}}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]), []byte(s[2]))
	}
	docs := []string{`{}`, `{"a":{"x":0,"w":[1],"y":{"q":1}},"b":{"q":1},"c":true}`, `{"a":"s","b":null}`, `[1]`}
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		texts := [][]byte{a, b, c}
		out, ok, err := delta.ComposeMerge(nil, texts, 0)
		var ps []*delta.Patch
		for _, text := range texts {
			p, perr := delta.ParseMergePatch(text)
			if perr != nil {
				if ok {
					t.Fatalf("composed %q although %s does not parse: %v", texts, text, perr)
				}
				return
			}
			ps = append(ps, p)
		}
		if err != nil {
			t.Fatalf("ComposeMerge(%q): %v; they parse", texts, err)
		}
		if !ok {
			return
		}
		composed, err := delta.ParseMergePatch(out)
		if err != nil {
			t.Fatalf("composed %s does not parse: %v", out, err)
		}
		for _, d := range docs {
			doc, _ := delta.Decode([]byte(d))
			want, _ := applyAll(doc, ps)
			got, _ := applyAll(doc, []*delta.Patch{composed})
			if !sameJSON(got, want) {
				t.Fatalf("%q on %s: composed %s gives %s, in sequence %s", texts, d, out, encodeOrNil(got), encodeOrNil(want))
			}
		}
	})
}

// FuzzMemberIndex: three patches of any text added to a MemberIndex. It
// never panics; a text that is not a merge patch object ends the answers
// from before it; and every answer takes the document as it was to the
// state after all three.
func FuzzMemberIndex(f *testing.F) {
	for _, s := range [][3]string{
		{`{"a":{"x":1,"y":2}}`, `{"a":{"x":3,"y":4}}`, `{"b":null}`},
		{`{"a":{"x":1,"y":2}}`, `{"a":{"x":1,"y":3}}`, `{"a":{"y":3,"x":1}}`},
		{`{"a":{"x":1}}`, `{"a":null}`, `{"a":{"x":1}}`},
		{`{"a":{"x":1}}`, `{"a":{"x":2,"z":{"q":1}}}`, `{"a":{"x":3,"z":5}}`},
		{`{"a":1,"a":{"y":1}}`, `[1]`, `{"c":"\u00e9"}`},
		{`{}`, `{"a":`, `null`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]), []byte(s[2]))
	}
	docs := []string{`{}`, `{"a":{"x":0,"w":[1]},"b":{"q":1},"c":true}`, `{"a":"s"}`}
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		texts := [][]byte{a, b, c}
		var x delta.MemberIndex
		merge := make([]*delta.Patch, len(texts))
		for i, text := range texts {
			x.Add(uint64(i+1), text)
			if p, err := delta.ParseMergePatch(text); err == nil && len(bytes.TrimSpace(text)) > 0 && bytes.TrimSpace(text)[0] == '{' {
				merge[i] = p
			}
		}
		for after := range uint64(len(texts)) {
			out, ok, err := x.Changed(after, nil, 0)
			if err != nil {
				t.Fatalf("Changed(%d): %v", after, err)
			}
			if !ok {
				continue
			}
			for i := after; i < uint64(len(texts)); i++ {
				if merge[i] == nil {
					t.Fatalf("Changed(%d) answered across %q, which is not a merge patch object", after, texts[i])
				}
			}
			composed, err := delta.ParseMergePatch(out)
			if err != nil {
				t.Fatalf("Changed(%d) = %s, which does not parse: %v", after, out, err)
			}
			for _, d := range docs {
				doc, _ := delta.Decode([]byte(d))
				// The document as it was at after, then the rest in
				// sequence, against the answer.
				for _, p := range merge[:after] {
					if p != nil {
						_, _ = p.Apply(&doc)
					}
				}
				want, got := delta.Clone(doc), delta.Clone(doc)
				for _, p := range merge[after:] {
					_, _ = p.Apply(&want)
				}
				_, _ = composed.Apply(&got)
				if !sameJSON(got, want) {
					t.Fatalf("%q from %d on %s: Changed %s gives %s, in sequence %s", texts, after, d, out, encodeOrNil(got), encodeOrNil(want))
				}
			}
		}
	})
}
