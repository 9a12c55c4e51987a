package delta_test

import (
	"errors"
	"fmt"

	"github.com/deltasync/syncd/delta"
)

func ExamplePatch_Apply() {
	doc, _ := delta.Decode([]byte(`{"title":"Groceries","items":[{"name":"milk"},{"name":"eggs"}]}`))
	p, _ := delta.ParsePatch([]byte(`[
		{"op":"replace","path":"/items/1/name","value":"bread"},
		{"op":"add","path":"/owner","value":"ada"}
	]`))

	ch, err := p.Apply(&doc)
	if err != nil {
		panic(err)
	}
	out, _ := delta.Encode(doc)
	fmt.Println(string(out))
	fmt.Println(ch.Paths.Strings(), ch.SizeDelta)

	ch.Undo(&doc)
	out, _ = delta.Encode(doc)
	fmt.Println(string(out))
	// Output:
	// {"items":[{"name":"milk"},{"name":"bread"}],"owner":"ada","title":"Groceries"}
	// [/items /owner] 15
	// {"items":[{"name":"milk"},{"name":"eggs"}],"title":"Groceries"}
}

func ExamplePatch_Apply_error() {
	doc, _ := delta.Decode([]byte(`{"n":1}`))
	p, _ := delta.ParsePatch([]byte(`[{"op":"remove","path":"/n"},{"op":"test","path":"/m","value":1}]`))

	_, err := p.Apply(&doc)
	fmt.Println(err)
	fmt.Println(errors.Is(err, delta.ErrPathNotFound))
	out, _ := delta.Encode(doc) // unchanged: the remove was undone
	fmt.Println(string(out))
	// Output:
	// delta: path not found: op 1: path "/m": no member "m" in the document
	// true
	// {"n":1}
}

func ExamplePathSet_Overlaps() {
	a, _ := delta.NewPathSet("/todos", "/title")
	b, _ := delta.NewPathSet("/todos/3/done")
	c, _ := delta.NewPathSet("/titles")
	fmt.Println(a.Overlaps(b), a.Overlaps(c))
	// Output: true false
}

func ExampleCompact() {
	var ps []*delta.Patch
	for _, s := range []string{`{"a":{"x":1}}`, `{"a":{"y":2},"b":null}`, `{"a":3}`, `{"a":{"z":4}}`} {
		p, _ := delta.ParsePatch([]byte(s))
		ps = append(ps, p)
	}
	for _, p := range delta.Compact(ps) {
		b, _ := p.MarshalJSON()
		fmt.Println(string(b))
	}
	// The last patch merges an object into the 3 the third one set: no single
	// merge patch can say that, so it stays apart.

	// Output:
	// {"a":3,"b":null}
	// {"a":{"z":4}}
}
