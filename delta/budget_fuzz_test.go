package delta_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/deltasync/syncd/delta"
)

// FuzzApplyBudget: ApplyWithin never panics; it fails atomically; what it
// accepts stays within the size and depth budgets (or within what the
// document already was, for a document over them); and short of the
// budget (work included) it does exactly what Apply does.
func FuzzApplyBudget(f *testing.F) {
	addSuiteSeeds(f, func(doc, patch []byte) { f.Add(doc, patch, uint16(64), uint8(3), uint16(0)) })
	var copies []string
	for i := range 26 {
		copies = append(copies, fmt.Sprintf(`{"op":"copy","from":"","path":"/c%d"}`, i))
	}
	f.Add([]byte(`{}`), []byte("["+strings.Join(copies, ",")+"]"), uint16(1000), uint8(0), uint16(0))
	f.Add([]byte(`{"a":{}}`), []byte(`[{"op":"copy","from":"","path":"/a/b"},{"op":"move","from":"/a","path":"/a/b/c"}]`), uint16(0), uint8(4), uint16(10))
	f.Add([]byte(`{"x":{"x":{}}}`), []byte(`{"x":{"x":{"y":{"z":[[1]]}}},"k":"vvvvvvvvvvvvvvvvvv"}`), uint16(40), uint8(5), uint16(0))
	f.Add([]byte(`{"a":[1,2,3],"b":"bb"}`), []byte(`[{"op":"copy","from":"/a","path":"/c"},{"op":"remove","path":"/c"},{"op":"replace","path":"/b","value":1}]`), uint16(0), uint8(0), uint16(12))
	f.Fuzz(func(t *testing.T, docText, patchText []byte, maxSize uint16, maxDepth uint8, maxWork uint16) {
		doc, err := delta.Decode(docText)
		if err != nil {
			return
		}
		p, err := delta.ParsePatch(patchText)
		if err != nil {
			return
		}
		defer p.Release()
		before := mustEncode(t, doc)
		depthBefore := delta.Depth(doc)
		b := delta.Budget{Size: len(before), MaxSize: int(maxSize), MaxDepth: int(maxDepth), MaxWork: int(maxWork)}
		var ch delta.Change
		err = p.ApplyWithin(&doc, &ch, b)
		after := mustEncode(t, doc)
		overBudget := errors.Is(err, delta.ErrTooLarge) || errors.Is(err, delta.ErrTooDeep) || errors.Is(err, delta.ErrTooMuchWork)
		if err != nil {
			assertSentinel(t, err)
			if !bytes.Equal(before, after) {
				t.Fatalf("failed ApplyWithin changed %s to %s", before, after)
			}
		} else {
			if ch.SizeDelta != len(after)-len(before) {
				t.Fatalf("SizeDelta = %d, want %d", ch.SizeDelta, len(after)-len(before))
			}
			if b.MaxSize > 0 && len(after) > max(b.MaxSize, len(before)) {
				t.Fatalf("%s → %s: %d bytes, over the budget of %d", before, after, len(after), b.MaxSize)
			}
			if d := delta.Depth(doc); b.MaxDepth > 0 && d > max(b.MaxDepth, depthBefore) {
				t.Fatalf("%s → %s: %d deep, over the budget of %d", before, after, d, b.MaxDepth)
			}
		}
		// Without a budget a patch of copies can double the document per
		// operation; compare with Apply only where that stays small.
		if p.Len() > 8 {
			return
		}
		free, _ := delta.Decode(before)
		_, freeErr := p.Apply(&free)
		switch {
		case err == nil && (freeErr != nil || !bytes.Equal(mustEncode(t, free), after)):
			t.Fatalf("ApplyWithin gave %s, Apply %s, %v", after, mustEncode(t, free), freeErr)
		case err != nil && !overBudget && (freeErr == nil || errors.Unwrap(freeErr) != errors.Unwrap(err)):
			t.Fatalf("ApplyWithin failed with %v, Apply with %v", err, freeErr)
		}
	})
}
