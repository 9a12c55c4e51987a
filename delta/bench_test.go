package delta_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/deltasync/syncd/delta"
)

// benchDoc builds an object document of about size encoded bytes: members
// "item00000", "item00001", … each a small record, as a todo list or a
// lobby keeps.
func benchDoc(size int) any {
	doc := map[string]any{}
	for i, n := 0, 2; n < size; i++ {
		k := fmt.Sprintf("item%05d", i)
		v := map[string]any{
			"name":  fmt.Sprintf("task number %d", i),
			"count": json.Number(fmt.Sprint(i * 7)),
			"tags":  []any{"work", "urgent"},
			"done":  i%2 == 0,
		}
		doc[k] = v
		n += len(k) + 4 + delta.Size(v) // "k":v,
	}
	return doc
}

var benchSizes = []struct {
	name string
	size int
}{{"1KB", 1 << 10}, {"1MB", 1 << 20}}

// BenchmarkApplyOneOp applies a one-operation replace of an object member.
// ns/op must be the same for both document sizes: Apply walks only the path.
func BenchmarkApplyOneOp(b *testing.B) {
	p := mustParse(b, `[{"op":"replace","path":"/item00005/name","value":"renamed"}]`)
	for _, s := range benchSizes {
		b.Run("doc="+s.name, func(b *testing.B) {
			doc := benchDoc(s.size)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Apply(&doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyMergePatch applies a two-member merge patch into one record.
func BenchmarkApplyMergePatch(b *testing.B) {
	p := mustParse(b, `{"item00005":{"name":"renamed","done":true,"note":null}}`)
	for _, s := range benchSizes {
		b.Run("doc="+s.name, func(b *testing.B) {
			doc := benchDoc(s.size)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Apply(&doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyUndo applies an append to an array and undoes it, the
// engine's path for an edit a hook rejects.
func BenchmarkApplyUndo(b *testing.B) {
	p := mustParse(b, `[{"op":"add","path":"/item00005/tags/-","value":"new"}]`)
	for _, s := range benchSizes {
		b.Run("doc="+s.name, func(b *testing.B) {
			doc := benchDoc(s.size)
			b.ReportAllocs()
			for b.Loop() {
				ch, err := p.Apply(&doc)
				if err != nil {
					b.Fatal(err)
				}
				ch.Undo(&doc)
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	doc := benchDoc(100 << 10)
	b.Run("doc=100KB", func(b *testing.B) {
		b.SetBytes(int64(delta.Size(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := delta.Encode(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("doc=100KB/append", func(b *testing.B) {
		b.SetBytes(int64(delta.Size(doc)))
		b.ReportAllocs()
		buf := make([]byte, 0, delta.Size(doc))
		for b.Loop() {
			var err error
			if buf, err = delta.AppendEncode(buf[:0], doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("doc=100KB/encoding-json", func(b *testing.B) {
		b.SetBytes(int64(delta.Size(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSize(b *testing.B) {
	doc := benchDoc(100 << 10)
	b.Run("doc=100KB", func(b *testing.B) {
		b.SetBytes(int64(delta.Size(doc)))
		b.ReportAllocs()
		for b.Loop() {
			delta.Size(doc)
		}
	})
}

// TestApplyCostIndependentOfDocument guards the cost law without timing
// anything: a one-operation patch allocates the same, and little, in a 1 KB
// and a 1 MB document (copying or encoding the document would show here).
func TestApplyCostIndependentOfDocument(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1 MB document")
	}
	for _, text := range []string{
		`[{"op":"replace","path":"/item00005/name","value":"renamed"}]`,
		`{"item00005":{"name":"renamed","done":true,"note":null}}`,
	} {
		p := mustParse(t, text)
		var allocs []float64
		for _, s := range benchSizes {
			doc := benchDoc(s.size)
			allocs = append(allocs, testing.AllocsPerRun(100, func() {
				if _, err := p.Apply(&doc); err != nil {
					t.Fatal(err)
				}
			}))
		}
		if allocs[0] != allocs[1] || allocs[0] > 4 {
			t.Errorf("%s: allocations per Apply %v for documents of %v bytes", text, allocs, benchSizes)
		}
	}
}

// benchMergePatch is a ~100-byte merge patch, the shape of the engine's
// commit benchmark; benchJSONPatch a 3-operation JSON Patch.
const (
	benchMergePatch = `{"k12":{"title":"item 12","done":false,"note":"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"}}`
	benchJSONPatch  = `[{"op":"test","path":"/item00005/done","value":false},` +
		`{"op":"replace","path":"/item00005/name","value":"renamed"},` +
		`{"op":"add","path":"/item00005/tags/-","value":"new"}]`
)

func BenchmarkParsePatch(b *testing.B) {
	for _, c := range []struct{ name, text string }{
		{"merge=100B", benchMergePatch},
		{"jsonpatch=3ops", benchJSONPatch},
	} {
		b.Run(c.name, func(b *testing.B) {
			data := []byte(c.text)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := delta.ParsePatch(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	data, err := delta.Encode(benchDoc(100 << 10))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("doc=100KB", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := delta.Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCompactMerge1000 composes 1,000 ~100-byte merge patches of
// members of a 1,000-member document: a catch-up 1,000 revisions behind.
func BenchmarkCompactMerge1000(b *testing.B) {
	ps := make([]*delta.Patch, 1000)
	for i := range ps {
		ps[i] = mustParse(b, fmt.Sprintf(`{"k%d":{"~":%d,"pad":"%070d"}}`, (i*7919)%1000, i, 0))
	}
	b.ReportAllocs()
	for b.Loop() {
		var c delta.Compactor
		for _, p := range ps {
			c.Add(p)
		}
		if _, err := c.Runs()[0].AppendJSON(nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyBudget applies the merge patch of BenchmarkApplyMergePatch
// as the engine does, into one reused Change, without a budget (ApplyTo)
// and within one (ApplyWithin): the budget must cost nothing measurable.
func BenchmarkApplyBudget(b *testing.B) {
	p := mustParse(b, `{"item00005":{"name":"renamed","done":true,"note":null}}`)
	doc := benchDoc(1 << 10)
	size := delta.Size(doc)
	var ch delta.Change
	b.Run("none", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := p.ApplyTo(&doc, &ch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("within", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := p.ApplyWithin(&doc, &ch, delta.Budget{Size: size, MaxSize: 1 << 20, MaxDepth: 256}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
