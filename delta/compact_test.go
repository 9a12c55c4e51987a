package delta_test

import (
	"fmt"
	"runtime"
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
		checkRuns(t, doc, ps)
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

// checkRuns checks what a Compactor says about its result: the runs cover
// the inputs in order, a run of one is the input itself, and each run's
// patch has the effect of the inputs it stands for.
func checkRuns(t *rapid.T, doc any, ps []*delta.Patch) {
	var c delta.Compactor
	for _, p := range ps {
		c.Add(p)
	}
	runs := c.Runs()
	i := 0
	for _, r := range runs {
		if r.N < 1 || i+r.N > len(ps) {
			t.Fatalf("run of %d at input %d of %d", r.N, i, len(ps))
		}
		in := ps[i : i+r.N]
		if r.N == 1 && r.Patch() != in[0] {
			t.Fatalf("run of one at %d is not the input itself", i)
		}
		// Each run is checked against the document the inputs before it
		// leave, so later runs are tested on realistic documents too.
		want, wantOK := applyAll(doc, in)
		got, gotOK := applyAll(doc, []*delta.Patch{r.Patch()})
		if gotOK != wantOK || (wantOK && !sameJSON(got, want)) {
			t.Fatalf("run %d..%d: combined %v %s; in sequence %v %s", i, i+r.N-1, gotOK, encodeOrNil(got), wantOK, encodeOrNil(want))
		}
		if next, ok := applyAll(doc, in); ok {
			doc = next
		}
		i += r.N
	}
	if i != len(ps) {
		t.Fatalf("runs cover %d of %d inputs", i, len(ps))
	}
	if len(c.Runs()) != 0 {
		t.Fatalf("a used Compactor is not empty")
	}
	// The same patches given as text combine into the same runs, to the
	// same encodings.
	for _, p := range ps {
		b, err := p.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddJSON(p.Kind(), b); err != nil {
			t.Fatalf("AddJSON(%s): %v", b, err)
		}
	}
	again := c.Runs()
	if len(again) != len(runs) {
		t.Fatalf("AddJSON gave %d runs, Add %d", len(again), len(runs))
	}
	for i := range runs {
		want, err1 := runs[i].AppendJSON(nil)
		got, err2 := again[i].AppendJSON(nil)
		if again[i].N != runs[i].N || again[i].Kind != runs[i].Kind || err1 != nil || err2 != nil || string(got) != string(want) {
			t.Fatalf("run %d: AddJSON gave %d× %s, Add %d× %s", i, again[i].N, got, runs[i].N, want)
		}
	}
}

// TestCompactorLinear checks that composing a long run of merge patches of
// one member does not copy the accumulated patch at every step: the bytes
// allocated per added patch must not grow with the run's length. (Copying
// made 1,000 patches of distinct keys cost about 500 map copies each of
// 500 members.)
func TestCompactorLinear(t *testing.T) {
	perPatch := func(n int) float64 {
		ps := make([]*delta.Patch, n)
		for i := range ps {
			ps[i] = mustParse(t, fmt.Sprintf(`{"k%d":{"v":%d,"pad":"xxxxxxxx"}}`, i%1000, i))
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		var c delta.Compactor
		for _, p := range ps {
			c.Add(p)
		}
		if runs := c.Runs(); len(runs) != 1 || runs[0].N != n {
			t.Fatalf("%d patches of objects gave %d runs", n, len(runs))
		}
		runtime.ReadMemStats(&ms)
		return float64(ms.TotalAlloc-before) / float64(n)
	}
	small, large := perPatch(250), perPatch(1000)
	if large > 2*small {
		t.Errorf("bytes allocated per patch: %.0f for a run of 250, %.0f for 1,000: not linear", small, large)
	}
}

// TestCompactorAddJSON: patches given as text compose straight into the
// accumulator; a composition found impossible halfway is undone, and a
// member named twice counts once, last (as parsing does).
func TestCompactorAddJSON(t *testing.T) {
	tests := []struct {
		in   []string
		want []string // the runs, encoded
	}{
		{[]string{`{"a":{"x":1},"b":2}`, `{"c":1,"b":{"y":1}}`}, []string{`{"a":{"x":1},"b":2}`, `{"b":{"y":1},"c":1}`}},
		{[]string{`{"a":{"x":1}}`, `{"a":{"y":1},"a":{"z":2}}`}, []string{`{"a":{"x":1,"z":2}}`}},
		{[]string{`{"a":{"x":1}}`, `{"a":{"x":null,"y":[1, {"z":2}]}}`, `{"a":{"y":"s"},"b":null}`}, []string{`{"a":{"x":null,"y":"s"},"b":null}`}},
		{[]string{`{"a":1}`, `[1]`, `{"b":1}`}, []string{`[1]`, `{"b":1}`}},
		{[]string{`{"a":1}`, ` { "a" : { "b" : true } } `}, []string{`{"a":1}`, `{"a":{"b":true}}`}},
	}
	docs := []string{`{}`, `{"a":{"x":0,"w":1},"b":{"q":1},"c":[1]}`, `{"a":3}`}
	for _, tt := range tests {
		var c delta.Compactor
		var ps []*delta.Patch
		for _, s := range tt.in {
			if err := c.AddJSON(delta.MergePatch, []byte(s)); err != nil {
				t.Fatalf("AddJSON(%s): %v", s, err)
			}
			p, err := delta.ParseMergePatch([]byte(s))
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		runs := c.Runs()
		var got []string
		var combined []*delta.Patch
		for _, r := range runs {
			b, err := r.AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(b))
			combined = append(combined, r.Patch())
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("AddJSON(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for _, d := range docs {
			doc, _ := delta.Decode([]byte(d))
			want, _ := applyAll(doc, ps)
			have, _ := applyAll(doc, combined)
			if !sameJSON(have, want) {
				t.Errorf("%q on %s: combined %s, in sequence %s", tt.in, d, encodeOrNil(have), encodeOrNil(want))
			}
		}
	}
	var c delta.Compactor
	if err := c.AddJSON(delta.MergePatch, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.AddJSON(delta.MergePatch, []byte(`{"a":2}`)); err != nil {
		t.Fatal(err)
	}
	// A syntax error after a member was composed: the member is undone.
	if err := c.AddJSON(delta.MergePatch, []byte(`{"c":1,"a":}`)); err == nil {
		t.Fatal("a syntax error was accepted")
	}
	runs := c.Runs()
	if b, _ := runs[0].AppendJSON(nil); len(runs) != 1 || runs[0].N != 2 || string(b) != `{"a":2}` {
		t.Fatalf("after a refused patch: %d runs, %s", len(runs), b)
	}
}
