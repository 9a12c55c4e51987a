package schema_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/schema"
)

// itemsDoc returns a document of about size bytes: a title and members
// item-0, item-1, ... of about 100 bytes each.
func itemsDoc(tb testing.TB, size int) map[string]any {
	doc := map[string]any{"title": "a list"}
	total := delta.Size(doc)
	for i := 0; total < size; i++ {
		name := fmt.Sprintf("item-%d", i)
		item := map[string]any{
			"text": "something to do, described at some length", "done": false,
			"tags": []any{"home", "later"},
		}
		doc[name] = item
		total += delta.Size(map[string]any{name: item}) - 1 // one brace less, one comma more
	}
	return doc
}

// BenchmarkValidate measures the hook on one commit that changes one item
// of a 10 KB and a 1 MB document: "changed" checks only the member the edit
// touched (the commit path once a document has been checked), "whole"
// checks the whole document (a schema that rules the shortcut out, or the
// first commit after a load).
func BenchmarkValidate(b *testing.B) {
	set, err := schema.Load(map[string]string{"": "testdata/items.json"})
	if err != nil {
		b.Fatal(err)
	}
	paths, _ := delta.NewPathSet("/item-7/done")
	for _, size := range []struct {
		name  string
		bytes int
	}{{"10KB", 10 << 10}, {"1MB", 1 << 20}} {
		doc := itemsDoc(b, size.bytes)
		for _, mode := range []struct {
			name    string
			checked bool
		}{{"changed", true}, {"whole", false}} {
			b.Run(size.name+"/"+mode.name, func(b *testing.B) {
				v := &syncd.Validation{Doc: "d", State: doc, Paths: paths, Checked: mode.checked}
				b.ReportAllocs()
				for b.Loop() {
					if err := set.Validate(context.Background(), v); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
