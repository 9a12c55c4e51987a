package delta_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd/delta"
)

// Generators for the property tests. Names and values come mostly from
// small alphabets, so that random patches often hit existing paths and
// random merge patches often overlap, with the awkward cases mixed in:
// names that need pointer escaping, names that sort around '/', numbers
// that are equal in value but not in text.

var keys = []string{"a", "b", "c", "ab", "a!", "a/b", "~", "~1", "-", "0", "1", "", "<&>"}

var numbers = []string{
	"0", "-0", "0.0", "1", "1.0", "10e-1", "1e0", "-1", "2", "100", "1e2", "1E+2",
	"0.5", "5e-1", "-2.5", "12345678901234567890", "12345678901234567891", "1e400",
}

var stringValues = []string{
	"", "a", "b", "x y", "<tag>&amp;", "quote\"back\\slash", "tab\tnl\n", "\x00\x01\x1f\x7f",
	"\u2028\u2029", "é€𝄞", "~/", "\b\f\r",
}

func drawKey(t *rapid.T) string {
	if rapid.IntRange(0, 9).Draw(t, "keyArbitrary") == 0 {
		return rapid.StringN(0, 4, -1).Draw(t, "key")
	}
	return rapid.SampledFrom(keys).Draw(t, "key")
}

func drawScalar(t *rapid.T, invalidUTF8 bool) any {
	switch rapid.IntRange(0, 3).Draw(t, "scalar") {
	case 0:
		return nil
	case 1:
		return rapid.Bool().Draw(t, "bool")
	case 2:
		if rapid.Bool().Draw(t, "numberArbitrary") {
			return json.Number(strconv.FormatInt(rapid.Int64().Draw(t, "int"), 10))
		}
		return json.Number(rapid.SampledFrom(numbers).Draw(t, "number"))
	default:
		switch rapid.IntRange(0, 5).Draw(t, "stringKind") {
		case 0:
			return rapid.String().Draw(t, "string")
		case 1:
			if invalidUTF8 {
				return string(rapid.SliceOfN(rapid.Byte(), 0, 6).Draw(t, "bytes"))
			}
		}
		return rapid.SampledFrom(stringValues).Draw(t, "string")
	}
}

// drawValue draws a value of the model of Decode, nested at most depth deep.
// Arrays get random spare capacity (decoded arrays have none), so that inserts
// take both of Apply's paths (in place and reallocating).
func drawValue(t *rapid.T, depth int, invalidUTF8 bool) any {
	kind := rapid.IntRange(0, 5).Draw(t, "kind")
	if depth <= 0 || kind < 3 {
		return drawScalar(t, invalidUTF8)
	}
	n := rapid.IntRange(0, 4).Draw(t, "len")
	if kind == 3 {
		a := make([]any, n, n+rapid.IntRange(0, 2).Draw(t, "spare"))
		for i := range a {
			a[i] = drawValue(t, depth-1, invalidUTF8)
		}
		return a
	}
	m := make(map[string]any, n)
	for range n {
		m[drawKey(t)] = drawValue(t, depth-1, invalidUTF8)
	}
	return m
}

// valueGen draws documents of valid UTF-8, so they survive a round trip.
var valueGen = rapid.Custom(func(t *rapid.T) any { return drawValue(t, 4, false) })

// anyValueGen may put invalid UTF-8 in strings and names.
var anyValueGen = rapid.Custom(func(t *rapid.T) any { return drawValue(t, 4, true) })

// docGen draws documents that are usually objects, as syncd's are.
var docGen = rapid.Custom(func(t *rapid.T) any {
	if rapid.IntRange(0, 9).Draw(t, "docKind") == 5 {
		return drawValue(t, 4, false)
	}
	n := rapid.IntRange(1, 6).Draw(t, "docLen")
	m := make(map[string]any, n)
	for range n {
		m[drawKey(t)] = drawValue(t, 3, false)
	}
	return m
})

// escapeToken escapes a reference token for a JSON Pointer (RFC 6901).
func escapeToken(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// allPointers lists the pointers of every value in v, v itself first.
func allPointers(v any, prefix string, out []string) []string {
	out = append(out, prefix)
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			out = allPointers(x, prefix+"/"+escapeToken(k), out)
		}
	case []any:
		for i, x := range v {
			out = allPointers(x, prefix+"/"+strconv.Itoa(i), out)
		}
	}
	return out
}

// drawPointer draws a pointer for doc: usually an existing one, often a
// near miss (a new member, "-", an index past the end or with a leading
// zero), sometimes malformed.
func drawPointer(t *rapid.T, doc any, label string) string {
	// Sort for reproducibility (map iteration order is random), and keep
	// the root aside: rapid favours the first element, and the root is a
	// dull target.
	ptrs := allPointers(doc, "", nil)[1:]
	slices.Sort(ptrs)
	base := ""
	if len(ptrs) > 0 && rapid.IntRange(0, 19).Draw(t, label+"Root") != 10 {
		base = rapid.SampledFrom(ptrs).Draw(t, label)
	}
	// rapid favours small and extreme draws, so the plain case is 0 and the
	// malformed one sits in the middle.
	switch v := rapid.IntRange(0, 29).Draw(t, label+"Variant"); {
	case v >= 12 && v <= 14:
		return base + "/" + escapeToken(drawKey(t))
	case v == 15 || v == 16:
		return base + "/-"
	case v >= 17 && v <= 19:
		return base + "/" + strconv.Itoa(rapid.IntRange(0, 6).Draw(t, label+"Index"))
	case v == 20:
		return base + "/0" + strconv.Itoa(rapid.IntRange(0, 3).Draw(t, label+"Index"))
	case v == 21 || v == 22:
		if i := strings.LastIndexByte(base, '/'); i >= 0 {
			return base[:i] + "/-"
		}
		return base
	case v == 23:
		return rapid.SampledFrom([]string{"a", "/~", "/~2", "/a~", "#/a"}).Draw(t, label+"Bad")
	default:
		return base
	}
}

var opNames = []string{"add", "remove", "replace", "move", "copy", "test"}

// drawOp draws one operation object for doc, sometimes malformed.
func drawOp(t *rapid.T, doc any) map[string]any {
	name := rapid.SampledFrom(opNames).Draw(t, "op")
	o := map[string]any{"op": name, "path": drawPointer(t, doc, "path")}
	switch name {
	case "move", "copy":
		o["from"] = drawPointer(t, doc, "from")
	case "add", "replace":
		o["value"] = drawValue(t, 2, false)
	case "test":
		// Test against the current value half the time, so tests pass.
		if rapid.Bool().Draw(t, "testExisting") {
			ptr := drawPointer(t, doc, "testFrom")
			if v, ok := lookup(doc, ptr); ok {
				o["value"] = delta.Clone(v)
				break
			}
		}
		o["value"] = drawValue(t, 2, false)
	}
	switch rapid.IntRange(0, 59).Draw(t, "malform") {
	case 20:
		delete(o, "path")
	case 21:
		o["path"] = json.Number("1")
	case 22:
		o["op"] = "frobnicate"
	case 23:
		delete(o, "value")
	case 24:
		o["from"] = nil
	case 25, 26, 27:
		o["extra"] = "ignored"
	}
	return o
}

// drawJSONPatch draws the text of a JSON Patch of 0-4 operations for doc.
func drawJSONPatch(t *rapid.T, doc any) []byte {
	n := rapid.IntRange(1, 4).Draw(t, "ops")
	if rapid.IntRange(0, 19).Draw(t, "noOps") == 10 {
		n = 0
	}
	ops := make([]any, n)
	for i := range ops {
		ops[i] = drawOp(t, doc)
	}
	b, err := delta.Encode(ops)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// drawMergeValue draws a merge patch member value: often null (delete) or an
// object (merge), over few names so that patches overlap.
func drawMergeValue(t *rapid.T, depth int) any {
	switch k := rapid.IntRange(0, 4).Draw(t, "mergeKind"); {
	case k == 0:
		return nil
	case k == 1 || depth <= 0:
		return drawScalar(t, false)
	case k == 2:
		return drawValue(t, 1, false)
	default:
		n := rapid.IntRange(0, 3).Draw(t, "mergeLen")
		m := make(map[string]any, n)
		for range n {
			m[rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "mergeKey")] = drawMergeValue(t, depth-1)
		}
		return m
	}
}

// drawMergePatch draws the text of a merge patch, usually an object.
func drawMergePatch(t *rapid.T) []byte {
	var v any
	if rapid.IntRange(0, 19).Draw(t, "mergeTop") == 10 {
		v = drawMergeValue(t, 0)
	} else {
		n := rapid.IntRange(0, 3).Draw(t, "mergeLen")
		m := make(map[string]any, n)
		for range n {
			m[rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "mergeKey")] = drawMergeValue(t, 2)
		}
		v = m
	}
	b, err := delta.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// drawPatch draws the text of a patch of either kind for doc.
func drawPatch(t *rapid.T, doc any) []byte {
	if rapid.IntRange(0, 2).Draw(t, "patchKind") == 0 {
		return drawMergePatch(t)
	}
	return drawJSONPatch(t, doc)
}

// lookup finds the value at ptr, for tests that need an independent reading.
func lookup(doc any, ptr string) (any, bool) {
	toks, err := delta.ParsePointer(ptr)
	if err != nil {
		return nil, false
	}
	v := doc
	for _, tok := range toks {
		switch c := v.(type) {
		case map[string]any:
			x, ok := c[tok]
			if !ok {
				return nil, false
			}
			v = x
		case []any:
			i, ok := modelIndex(tok, len(c)-1)
			if !ok {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}
