package delta_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd/delta"
)

// composeTexts composes texts with ComposeMerge.
func composeTexts(texts ...string) (string, bool, error) {
	ps := make([][]byte, len(texts))
	for i, s := range texts {
		ps[i] = []byte(s)
	}
	out, ok, err := delta.ComposeMerge([]byte("prefix:"), ps, 0)
	if string(out[:7]) != "prefix:" {
		panic("ComposeMerge did not append to dst")
	}
	return string(out[7:]), ok, err
}

func TestComposeMerge(t *testing.T) {
	tests := []struct {
		in   []string
		want string // "" when ok must be false
	}{
		{[]string{`{"a":1}`}, `{"a":1}`},
		{[]string{`{"a":1}`, `{"a":2}`}, `{"a":2}`},
		{[]string{`{"a":1}`, `{"b":2}`}, `{"b":2,"a":1}`},
		{[]string{`{"a":{"x":1,"y":2}}`, `{"a":{"x":3}}`}, `{"a":{"x":3,"y":2}}`},
		{[]string{`{"a":{"x":1}}`, `{"a":null}`}, `{"a":null}`},
		{[]string{`{"a":{"x":{"p":1}}}`, `{"a":{"x":{"q":2},"y":[1, 2]}}`}, `{"a":{"x":{"q":2,"p":1},"y":[1, 2]}}`},
		{[]string{`{"a":{}}`, `{"a":{"b":1}}`}, `{"a":{"b":1}}`},
		{[]string{`{"k":{"~":1,"pad":"x"}}`, `{"j":1}`, `{"k":{"~":2,"pad":"x"}}`}, `{"k":{"~":2,"pad":"x"},"j":1}`},
		{[]string{` { "a" : "s p" } `, `{}`}, `{"a":"s p"}`},
		{[]string{`{"\u0061":1}`, `{"a":{"b":2}}`}, ``}, // the same name, escaped
		// A non-object under a newer object has no single-patch form ...
		{[]string{`{"a":1}`, `{"a":{"b":1}}`}, ``},
		{[]string{`{"a":null}`, `{"a":{"b":1}}`}, ``},
		{[]string{`{"a":{"b":1}}`, `{"a":{"b":{"c":1}}}`}, ``},
		{[]string{`{"a":{"b":{"d":1}}}`, `{"a":{"b":{"c":1}}}`}, `{"a":{"b":{"c":1,"d":1}}}`},
		{[]string{`{"a":{"b":1}}`, `{"a":{"b":null}}`, `{"a":{"b":{"c":1}}}`}, ``},
		// ... unless a newer non-object decides it anyway.
		{[]string{`{"x":1}`, `{"x":{"y":1}}`, `{"x":2}`}, `{"x":2}`},
		// An older object whose members a newer one rewrote leaves
		// nothing, the newer text as written; a name the newer text
		// repeats counts by its last value.
		{[]string{`{"a":{"x":1,"y":2}}`, `{"a":{"y":3,"x":4}}`}, `{"a":{"y":3,"x":4}}`},
		{[]string{`{"a":{"y":{"z":1}}}`, `{"a":{"y":{"q":2},"y":5}}`}, `{"a":{"y":{"q":2},"y":5}}`},
		{[]string{`{"a":{"y":3}}`, `{"a":{"y":1,"y":{"q":2}}}`}, ``},
		{[]string{`{"a":{"y":{"r":3}}}`, `{"a":{"y":1,"y":{"q":2}}}`}, `{"a":{"y":{"q":2,"r":3}}}`},
		{[]string{`{"a":{}}`, `{"a":{"x":1}}`}, `{"a":{"x":1}}`},
		{[]string{`{"a":{"x":1}}`, `{"a":{}}`}, `{"a":{"x":1}}`},
		// Names repeated in one object, and patches that are not objects,
		// are left to the Compactor.
		{[]string{`{"a":1,"a":2}`}, ``},
		{[]string{`{"a":{"x":1}}`, `{"a":{"y":1},"a":{"z":2}}`}, ``},
		{[]string{`{"a":1}`, `[1]`}, ``},
		{[]string{`null`, `{"a":1}`}, ``},
		{nil, ``},
	}
	for _, tt := range tests {
		got, ok, err := composeTexts(tt.in...)
		if err != nil {
			t.Errorf("ComposeMerge(%q): %v", tt.in, err)
			continue
		}
		if ok != (tt.want != "") || (ok && got != tt.want) {
			t.Errorf("ComposeMerge(%q) = %s, %v; want %s", tt.in, got, ok, tt.want)
		}
	}
	// A repeated name inside a value no older patch merges into is
	// copied as written, and parses as the last one.
	got, ok, err := composeTexts(`{"a":{"x":1}}`, `{"b":{"y":1,"y":2}}`)
	if err != nil || !ok || got != `{"b":{"y":1,"y":2},"a":{"x":1}}` {
		t.Errorf("repeated name in a copied value: %s, %v, %v", got, ok, err)
	}
	// ... and expanded, the last one counts.
	got, ok, err = composeTexts(`{"a":{"z":1}}`, `{"a":{"y":1,"y":{"q":2}}}`)
	if err != nil || !ok || got != `{"a":{"y":{"q":2},"z":1}}` {
		t.Errorf("repeated name in an expanded value: %s, %v, %v", got, ok, err)
	}
	for _, bad := range [][]string{{`{"a":1}`, `{"a":}`}, {`{"a"`}, {`{"a":1} x`}, {``}, {`{"a":"\x01"}`}, {`nul`}} {
		if _, ok, err := composeTexts(bad...); ok || !errors.Is(err, delta.ErrInvalidPatch) {
			t.Errorf("ComposeMerge(%q): ok %v, err %v; want ErrInvalidPatch", bad, ok, err)
		}
	}
}

// TestComposeMergeProperty: a composition ComposeMerge finds has the effect
// of the patches in sequence, on the drawn document and on others; and it
// finds one whenever the forward Compactor does (it is never less able).
func TestComposeMergeProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		doc := docGen.Draw(t, "doc")
		var texts [][]byte
		var ps []*delta.Patch
		objects := true
		for range rapid.IntRange(1, 8).Draw(t, "n") {
			b := drawMergePatch(t)
			p, err := delta.ParseMergePatch(b)
			if err != nil {
				t.Fatalf("drawn merge patch %s: %v", b, err)
			}
			texts, ps = append(texts, b), append(ps, p)
			objects = objects && b[0] == '{'
		}
		out, ok, err := delta.ComposeMerge(nil, texts, 0)
		if err != nil {
			t.Fatalf("ComposeMerge: %v", err)
		}
		if runs := delta.Compact(ps); objects && len(runs) == 1 && !ok {
			t.Fatalf("the Compactor composes %q into one, ComposeMerge does not", texts)
		}
		if !ok {
			return
		}
		// A limit the result is within changes nothing; one it is far
		// over stops the composition.
		if again, ok, err := delta.ComposeMerge(nil, texts, 2*len(out)); err != nil || !ok || string(again) != string(out) {
			t.Fatalf("limit %d: %s, %v, %v; without: %s", 2*len(out), again, ok, err, out)
		}
		if len(out) >= 16 {
			if _, ok, err := delta.ComposeMerge(nil, texts, len(out)/2); ok || !errors.Is(err, delta.ErrOverLimit) {
				t.Fatalf("limit %d for %s: ok %v, err %v", len(out)/2, out, ok, err)
			}
		}
		composed, err := delta.ParseMergePatch(out)
		if err != nil {
			t.Fatalf("composed %s does not parse: %v", out, err)
		}
		for _, d := range []any{doc, map[string]any{}, mustDecode(t, `{"a":{"a":1,"b":[1]},"b":"s","c":{"c":{"a":null}}}`)} {
			want, wantOK := applyAll(d, ps)
			got, gotOK := applyAll(d, []*delta.Patch{composed})
			if gotOK != wantOK || (wantOK && !sameJSON(got, want)) {
				t.Fatalf("on %s: composed %s gives %s; in sequence %s", encodeOrNil(d), out, encodeOrNil(got), encodeOrNil(want))
			}
		}
	})
}

// BenchmarkComposeMerge composes 1,000 edits of ~100 bytes to random
// members of a 1,000-member document, as a catch-up 1,000 behind does,
// against the forward Compactor.
func BenchmarkComposeMerge(b *testing.B) {
	texts := catchUpEdits(1000)
	b.Run("backward", func(b *testing.B) {
		var out []byte
		for b.Loop() {
			var ok bool
			var err error
			if out, ok, err = delta.ComposeMerge(out[:0], texts, 0); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
		b.ReportMetric(float64(len(out)), "bytes")
	})
	b.Run("compactor", func(b *testing.B) {
		var c delta.Compactor
		for b.Loop() {
			for _, t := range texts {
				if err := c.AddJSON(delta.MergePatch, t); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := c.Runs()[0].AppendJSON(nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// catchUpEdits returns n merge patches like syncbench's catch-up edits:
// {"k<i>":{"~":<stamp>,"pad":"xx…"}}, ~100 bytes, over 1,000 members chosen
// at random with a fixed seed.
func catchUpEdits(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	texts := make([][]byte, n)
	for i := range texts {
		texts[i] = fmt.Appendf(nil, `{"k%d":{"~":%d,"pad":"%s"}}`, rng.IntN(1000), 1764000000000000000+i, strings.Repeat("x", 60))
	}
	return texts
}
