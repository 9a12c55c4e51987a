package delta_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/deltasync/syncd/delta"
)

// applyWithin parses patch and applies it to doc (JSON text) within b,
// whose Size it fills in. It returns the document after (or as left by a
// failure) and the error, checking the laws every ApplyWithin keeps:
// atomicity, an exact SizeDelta, and a result within the budget.
func applyWithin(t *testing.T, doc, patch string, b delta.Budget) (string, error) {
	t.Helper()
	v := mustDecode(t, doc)
	p, err := delta.ParsePatch([]byte(patch))
	if err != nil {
		t.Fatalf("ParsePatch(%s): %v", patch, err)
	}
	before := string(mustEncode(t, v))
	b.Size = len(before)
	var ch delta.Change
	err = p.ApplyWithin(&v, &ch, b)
	after := string(mustEncode(t, v))
	if err != nil {
		assertSentinel(t, err)
		if after != before {
			t.Fatalf("failed ApplyWithin changed %s to %s", before, after)
		}
		return after, err
	}
	if ch.SizeDelta != len(after)-len(before) {
		t.Fatalf("SizeDelta %d, want %d", ch.SizeDelta, len(after)-len(before))
	}
	if b.MaxSize > 0 && len(after) > b.MaxSize && len(after) > len(before) {
		t.Fatalf("%s grew to %d bytes, over the budget of %d", after, len(after), b.MaxSize)
	}
	if b.MaxDepth > 0 && delta.Depth(v) > b.MaxDepth {
		t.Fatalf("%s nests %d deep, over the budget of %d", after, delta.Depth(v), b.MaxDepth)
	}
	ch.Undo(&v)
	if got := string(mustEncode(t, v)); got != before {
		t.Fatalf("Undo gave %s, want %s", got, before)
	}
	return after, nil
}

// nested returns depth levels of {"x":…} around leaf.
func nested(depth int, leaf string) string {
	return strings.Repeat(`{"x":`, depth) + leaf + strings.Repeat(`}`, depth)
}

func TestBudgetSize(t *testing.T) {
	big := `"` + strings.Repeat("b", 100) + `"` // 102 bytes
	for _, tc := range []struct {
		name, doc, patch string
		max              int
		want             string // the document after, or "" when refused over the size budget
	}{
		{"add within", `{}`, `[{"op":"add","path":"/a","value":1}]`, 7, `{"a":1}`},
		{"add over by one", `{}`, `[{"op":"add","path":"/a","value":1}]`, 6, ""},
		{"add big over", `{}`, `[{"op":"add","path":"/a","value":` + big + `}]`, 100, ""},
		{"append over", `{"l":[1]}`, `[{"op":"add","path":"/l/-","value":` + big + `}]`, 100, ""},
		{"replace grows over", `{"a":1}`, `[{"op":"replace","path":"/a","value":` + big + `}]`, 100, ""},
		{"replace shrinks under", `{"a":` + big + `}`, `[{"op":"replace","path":"/a","value":1}]`, 50, `{"a":1}`},
		{"shrinking is allowed over the limit", `{"a":` + big + `,"b":1}`, `[{"op":"remove","path":"/b"}]`, 50, `{"a":` + big + `}`},
		{"replace the root over", `{}`, `[{"op":"replace","path":"","value":{"a":` + big + `}}]`, 100, ""},
		{"copy over", `{"a":"0123456789"}`, `[{"op":"copy","from":"/a","path":"/b"}]`, 34, ""},
		{"copy within", `{"a":"0123456789"}`, `[{"op":"copy","from":"/a","path":"/b"}]`, 35, `{"a":"0123456789","b":"0123456789"}`},
		{"move to a longer name over", `{"a":1}`, `[{"op":"move","from":"/a","path":"/abcdefgh"}]`, 10, ""},
		{"move within", `{"a":` + big + `}`, `[{"op":"move","from":"/a","path":"/b"}]`, 108, `{"b":` + big + `}`},
		{"over midway, under at the end", `{}`, `[{"op":"add","path":"/a","value":` + big + `},{"op":"remove","path":"/a"}]`, 100, ""},
		{"merge add over", `{}`, `{"a":` + big + `}`, 100, ""},
		{"merge nested over", `{"o":{}}`, `{"o":{"p":{"q":` + big + `}}}`, 100, ""},
		{"merge within", `{"o":{"k":1}}`, `{"o":{"k":null,"p":2}}`, 13, `{"o":{"p":2}}`},
		{"merge delete then add over", `{"a":` + big + `}`, `{"a":null,"b":` + big + `,"c":1}`, 108, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applyWithin(t, tc.doc, tc.patch, delta.Budget{MaxSize: tc.max})
			switch {
			case tc.want == "" && !errors.Is(err, delta.ErrTooLarge):
				t.Fatalf("got %s, %v; want ErrTooLarge", got, err)
			case tc.want != "" && (err != nil || got != tc.want):
				t.Fatalf("got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestBudgetDepth(t *testing.T) {
	for _, tc := range []struct {
		name, doc, patch string
		max              int
		ok               bool
	}{
		{"add at the limit", `{}`, `[{"op":"add","path":"/a","value":` + nested(3, "1") + `}]`, 4, true},
		{"add over", `{}`, `[{"op":"add","path":"/a","value":` + nested(4, "1") + `}]`, 4, false},
		{"add deep down over", `{"x":{"x":{}}}`, `[{"op":"add","path":"/x/x/y","value":[[]]}]`, 4, false},
		{"append over", `{"l":[]}`, `[{"op":"add","path":"/l/-","value":[[]]}]`, 3, false},
		{"replace over", `{"a":1}`, `[{"op":"replace","path":"/a","value":` + nested(2, "{}") + `}]`, 3, false},
		{"replace the root at the limit", `{}`, `[{"op":"replace","path":"","value":` + nested(4, "1") + `}]`, 4, true},
		{"copy deeper over", `{"a":` + nested(2, "1") + `,"b":{}}`, `[{"op":"copy","from":"/a","path":"/b/c"}]`, 3, false},
		{"copy as deep", `{"a":` + nested(2, "1") + `,"b":{}}`, `[{"op":"copy","from":"/a","path":"/c"}]`, 3, true},
		{"copy into itself, deeper", `{"a":{}}`, `[{"op":"copy","from":"","path":"/a/b"}]`, 4, true},
		{"copy into itself, too deep", `{"a":{"x":{}}}`, `[{"op":"copy","from":"","path":"/a/b"}]`, 4, false},
		{"move deeper over", `{"a":` + nested(2, "1") + `,"b":{}}`, `[{"op":"move","from":"/a","path":"/b/c"}]`, 3, false},
		{"move shallower", `{"b":{"c":` + nested(1, "1") + `}}`, `[{"op":"move","from":"/b/c","path":"/a"}]`, 3, true},
		{"merge at the limit", `{}`, `{"a":` + nested(2, "1") + `}`, 3, true},
		{"merge over", `{}`, `{"a":` + nested(3, "1") + `}`, 3, false},
		{"merge into a deep object over", `{"x":{"x":{}}}`, `{"x":{"x":{"y":{}}}}`, 3, false},
		{"merge deleting deep is fine", `{"x":{"x":{"y":1}}}`, `{"x":{"x":{"y":null}}}`, 3, true},
		{"merge through existing objects at the limit", `{"x":{"x":{}}}`, `{"x":{"x":{"y":1}}}`, 3, true},
		{"merge replacing the root over", `[]`, nested(4, "1"), 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applyWithin(t, tc.doc, tc.patch, delta.Budget{MaxDepth: tc.max})
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, delta.ErrTooDeep) {
				t.Fatalf("got %s, %v; want ErrTooDeep", got, err)
			}
		})
	}
}

// TestBudgetErrorNamesTheStep: a refusal says which operation went over
// and where it would have inserted.
func TestBudgetErrorNamesTheStep(t *testing.T) {
	_, err := applyWithin(t, `{}`, `[{"op":"add","path":"/a","value":1},{"op":"add","path":"/b","value":"long enough"}]`, delta.Budget{MaxSize: 10})
	var de *delta.Error
	if !errors.As(err, &de) || de.Op != 1 || de.Path != "/b" || !strings.Contains(err.Error(), "limit of 10") {
		t.Fatalf("error %v: want op 1, path /b, the limit", err)
	}
	_, err = applyWithin(t, `{"a":{}}`, `{"a":{"b":{"c":{}}}}`, delta.Budget{MaxDepth: 3})
	if !errors.As(err, &de) || de.Op != -1 || de.Path != "/a/b" {
		t.Fatalf("error %v: want op -1, path /a/b", err)
	}
}

// TestBudgetCopiesDoNotExhaustMemory is the attack of the issue: a patch
// of 26 copies of the document into itself would double it 26 times. The
// copy that would go over the budget is refused before it is cloned, so
// the Apply allocates about what the budget allows, not 2^26 documents.
func TestBudgetCopiesDoNotExhaustMemory(t *testing.T) {
	var ops []string
	for i := range 26 {
		ops = append(ops, fmt.Sprintf(`{"op":"copy","from":"","path":"/c%d"}`, i))
	}
	patch := "[" + strings.Join(ops, ",") + "]"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := applyWithin(t, `{}`, patch, delta.Budget{MaxSize: 1 << 20})
	runtime.ReadMemStats(&after)
	var de *delta.Error
	if !errors.As(err, &de) || !errors.Is(err, delta.ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	// {} grows to 2^(n+1)·5 bytes or so after n copies: the 18th would
	// pass 1 MiB.
	if de.Op < 15 || de.Op > 18 {
		t.Fatalf("refused at op %d, want the copy that passes 1 MiB", de.Op)
	}
	// A 1 MiB document of empty objects is some tens of MiB of maps; 2^26
	// copies would be tens of GiB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
		t.Fatalf("the refused patch allocated %d MiB", alloc>>20)
	}
}

func TestDepth(t *testing.T) {
	for doc, want := range map[string]int{
		`1`: 0, `"s"`: 0, `null`: 0, `{}`: 1, `[]`: 1, `{"a":[1]}`: 2, `[[],[[{}]],1]`: 4, nested(10, "{}"): 11,
	} {
		if got := delta.Depth(mustDecode(t, doc)); got != want {
			t.Errorf("Depth(%s) = %d, want %d", doc, got, want)
		}
	}
}

// TestBudgetWork: a patch that copies and removes half the document over
// and over stays within the size budget at every step, but would walk
// the document hundreds of times; the work budget stops it at the
// operation that passes it. Work a patch does legitimately, such as
// replacing the whole document, is within a budget of a few documents.
func TestBudgetWork(t *testing.T) {
	half := map[string]any{"a": benchDoc(500 << 10)}
	var ops []string
	for range 500 {
		ops = append(ops, `{"op":"copy","from":"/a","path":"/b"}`, `{"op":"remove","path":"/b"}`)
	}
	p := mustParse(t, "["+strings.Join(ops, ",")+"]")
	doc := any(half)
	size := delta.Size(doc)
	b := delta.Budget{Size: size, MaxSize: 1 << 20, MaxWork: 8 << 20}
	var ch delta.Change
	err := p.ApplyWithin(&doc, &ch, b)
	var de *delta.Error
	if !errors.As(err, &de) || !errors.Is(err, delta.ErrTooMuchWork) {
		t.Fatalf("got %v, want ErrTooMuchWork", err)
	}
	// Each copy and each removal walks about size bytes.
	if limit := 2 * (8 << 20) / size; de.Op > limit+1 {
		t.Fatalf("refused at op %d, want by op %d", de.Op, limit+1)
	}
	if delta.Size(doc) != size {
		t.Fatal("the refused patch changed the document")
	}

	for _, tc := range []struct {
		name, patch string
		ok          bool
	}{
		{"replace the whole document", `[{"op":"replace","path":"","value":{"new":1}}]`, true},
		{"remove half", `[{"op":"remove","path":"/a"}]`, true},
		{"copy half once", `[{"op":"copy","from":"/a","path":"/b"}]`, true},
		{"move is free", strings.Repeat(`{"op":"move","from":"/a","path":"/b"},{"op":"move","from":"/b","path":"/a"},`, 400) + `{"op":"test","path":"/a/item00000/done","value":true}`, true},
		{"moving deeper is walked", strings.Repeat(`{"op":"move","from":"/a","path":"/c/a"},{"op":"move","from":"/c/a","path":"/a"},`, 400) + `{"op":"test","path":"/a/item00000/done","value":true}`, false},
		{"replace over and over", strings.Repeat(`{"op":"replace","path":"/a","value":1},{"op":"copy","from":"/x","path":"/a"},`, 100) + `{"op":"test","path":"/a/item00000/done","value":true}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := any(map[string]any{"a": benchDoc(500 << 10), "c": map[string]any{}, "x": benchDoc(500 << 10)})
			patch := tc.patch
			if !strings.HasPrefix(patch, "[") {
				patch = "[" + patch + "]"
			}
			b := delta.Budget{Size: delta.Size(doc), MaxSize: 2 << 20, MaxDepth: 256, MaxWork: 8 << 20}
			var ch delta.Change
			err := mustParse(t, patch).ApplyWithin(&doc, &ch, b)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, delta.ErrTooMuchWork) {
				t.Fatalf("got %v, want ErrTooMuchWork", err)
			}
		})
	}
}
