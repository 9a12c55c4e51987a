package delta_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/deltasync/syncd/delta"
)

// TestJSDifferential checks that the browser client (client/browser/syncd.js)
// applies patches exactly as this package does: the same result, or both
// refusing with the same code (PROTOCOL.md §6.2: "Clients MUST apply
// operations with exactly these RFC semantics so that they reach the
// server's state"). It generates random documents and runs of patches
// (JSON Patch with valid and invalid paths, "-", escapes, numeric-looking
// keys, leading zeros, tests of equal values written differently, moves and
// copies into descendants; merge patches with nulls, nested objects and
// arrays) with a fixed seed, adds the JSON Patch test suite, applies every
// case here and in node (testdata/jsdiff.mjs), and compares step by step.
// It is skipped when node is not installed.
func TestJSDifferential(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	n := 3000
	if s := os.Getenv("JSDIFF_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if testing.Short() {
		n = 500
	}
	var cases []diffCase
	g := &caseGen{r: rand.New(rand.NewPCG(diffSeed(), 6902))}
	for range n {
		c := g.caseOf()
		cases = append(cases, c)
		if cc, ok := compacted(t, c); ok {
			cases = append(cases, cc)
		}
	}
	cases = append(cases, fixedDiffCases...)
	for _, file := range []string{"tests.json", "spec_tests.json"} {
		for _, r := range loadSuite(t, file) {
			cases = append(cases, diffCase{Raw: true, Name: r.name, Doc: string(mustEncode(t, r.doc)), Patches: []string{string(r.patch)}})
		}
	}

	in := filepath.Join(t.TempDir(), "cases.jsonl")
	var buf bytes.Buffer
	for _, c := range cases {
		buf.WriteString(c.line())
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "testdata/jsdiff.mjs", in)
	cmd.Stderr = os.Stderr
	outText, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(outText))
	sc.Buffer(nil, 1<<24)
	var (
		bad, badCodes         int
		stepsOK, stepsRefused int
		refusedBy             = map[string]int{}
	)
	for i, c := range cases {
		if !sc.Scan() {
			t.Fatalf("node printed %d results for %d cases", i, len(cases))
		}
		var js struct {
			Steps []struct {
				OK   bool            `json:"ok"`
				Code string          `json:"code"`
				Doc  json.RawMessage `json:"doc"`
			} `json:"steps"`
		}
		if err := json.Unmarshal(sc.Bytes(), &js); err != nil {
			t.Fatalf("case %d: node printed %q: %v", i, sc.Text(), err)
		}
		goSteps := c.applyGo(t)
		if len(js.Steps) != len(goSteps) {
			t.Fatalf("case %d: node did %d steps, Go %d", i, len(js.Steps), len(goSteps))
		}
		for s, gs := range goSteps {
			j := js.Steps[s]
			same := gs.ok == j.OK
			if same && gs.ok {
				jv, err := delta.Decode(j.Doc)
				same = err == nil && delta.Equal(jv, gs.doc)
			}
			what := "result"
			if same && !gs.ok && gs.code != j.Code {
				same, what = false, "code"
			}
			if gs.ok {
				stepsOK++
			} else {
				stepsRefused++
				refusedBy[gs.code]++
			}
			if !same {
				if what == "code" {
					badCodes++
				} else {
					bad++
				}
				if (what == "code" && badCodes <= 10) || (what == "result" && bad <= 25) {
					goRes := gs.code
					if gs.ok {
						goRes = string(mustEncode(t, gs.doc))
					}
					jsRes := j.Code
					if j.OK {
						jsRes = string(j.Doc)
					}
					t.Errorf("case %d %s, step %d: the %s differs:\n  input %s\n  Go    %s\n  JS    %s", i, c.Name, s, what, c.line(), goRes, jsRes)
				}
				break
			}
		}
	}
	t.Logf("%d cases: %d steps applied, %d refused %v; %d differ in their result, %d in their code", len(cases), stepsOK, stepsRefused, refusedBy, bad, badCodes)
}

// diffCase is a document and a run of patches, as JSON text. Raw cases
// apply patches with no rule on the root (any document, any merge patch);
// the others as the engine applies an UPDATE (ParsePatch, then the root must
// stay an object).
type diffCase struct {
	Name    string
	Raw     bool
	Doc     string
	Patches []string
}

func (c diffCase) line() string {
	var b strings.Builder
	b.WriteString(`{"raw":`)
	b.WriteString(strconv.FormatBool(c.Raw))
	b.WriteString(`,"doc":`)
	b.WriteString(c.Doc)
	b.WriteString(`,"patches":[`)
	b.WriteString(strings.Join(c.Patches, ","))
	b.WriteString("]}")
	return b.String()
}

type goStep struct {
	ok   bool
	code string
	doc  any
}

// applyGo applies c's patches in turn, skipping those refused, and says
// what each did, with the wire code a refusal has (as commit.go maps it).
func (c diffCase) applyGo(t *testing.T) []goStep {
	doc := mustDecode(t, c.Doc)
	var out []goStep
	for _, text := range c.Patches {
		var p *delta.Patch
		var err error
		switch {
		case !c.Raw:
			p, err = delta.ParsePatch([]byte(text))
		case strings.HasPrefix(text, "["):
			p, err = delta.ParseJSONPatch([]byte(text))
		default:
			p, err = delta.ParseMergePatch([]byte(text))
		}
		if err != nil {
			out = append(out, goStep{code: "INVALID_ARGUMENT"})
			continue
		}
		before := mustEncode(t, doc)
		var ch delta.Change
		if err := p.ApplyWithin(&doc, &ch, delta.Budget{}); err != nil {
			if after := mustEncode(t, doc); !bytes.Equal(before, after) {
				t.Fatalf("%s: a failed apply changed the document", c.line())
			}
			code := "INVALID_ARGUMENT"
			if errors.Is(err, delta.ErrPathNotFound) || errors.Is(err, delta.ErrTestFailed) {
				code = "FAILED_PRECONDITION"
			}
			out = append(out, goStep{code: code})
			continue
		}
		if _, isObj := doc.(map[string]any); !isObj && !c.Raw {
			ch.Undo(&doc)
			out = append(out, goStep{code: "INVALID_ARGUMENT"})
			continue
		}
		out = append(out, goStep{ok: true, doc: delta.Clone(doc)})
	}
	return out
}

// compacted returns c with the patches that applied combined by
// delta.Compact, as a catch-up sends them (§5.3), when that makes fewer.
func compacted(t *testing.T, c diffCase) (diffCase, bool) {
	if c.Raw {
		return c, false
	}
	var ps []*delta.Patch
	for i, st := range c.applyGo(t) {
		if st.ok {
			p, err := delta.ParsePatch([]byte(c.Patches[i]))
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
	}
	out := delta.Compact(ps)
	if len(out) == len(ps) {
		return c, false
	}
	cc := diffCase{Name: "(compacted)", Doc: c.Doc}
	for _, p := range out {
		b, err := p.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		cc.Patches = append(cc.Patches, string(b))
	}
	return cc, true
}

// fixedDiffCases are cases written by hand, for what the generator seldom
// makes.
var fixedDiffCases = []diffCase{
	{Doc: `{"a":{"b":1}}`, Patches: []string{`[{"op":"test","path":"/a","value":{"b":1.0}}]`}},
	{Doc: `{"a":[1,{"x":1,"y":[2]}]}`, Patches: []string{`[{"op":"test","path":"/a","value":[1e0,{"y":[20e-1],"x":1}]}]`}},
	{Doc: `{"a":0}`, Patches: []string{`[{"op":"test","path":"/a","value":-0}]`}},
	{Doc: `{"a":[1,2]}`, Patches: []string{`[{"op":"test","path":"/a","value":[2,1]}]`}},
	{Doc: `{"a":{}}`, Patches: []string{`[{"op":"test","path":"/a","value":[]}]`}},
	{Doc: `{"a":[1]}`, Patches: []string{`[{"op":"add","path":"/a/01","value":2}]`, `[{"op":"remove","path":"/a/-"}]`, `[{"op":"replace","path":"/a/1","value":2}]`}},
	{Doc: `{"a":[1]}`, Patches: []string{`[{"op":"add","path":"/a/1e0","value":2}]`, `[{"op":"add","path":"/a/+1","value":2}]`, `[{"op":"add","path":"/a/ 1","value":2}]`, `[{"op":"add","path":"/a/-1","value":2}]`}},
	{Doc: `{"a":[1]}`, Patches: []string{`[{"op":"add","path":"/a/99999999999999999999","value":2}]`, `[{"op":"test","path":"/a/0x0","value":1}]`}},
	{Doc: `{"01":1,"-":2}`, Patches: []string{`[{"op":"move","from":"/01","path":"/1"},{"op":"copy","from":"/-","path":"/0"}]`}},
	{Doc: `{"a":{"b":{}}}`, Patches: []string{`[{"op":"move","from":"/a","path":"/a/b/c"}]`, `[{"op":"copy","from":"/a","path":"/a/b/c"}]`, `[{"op":"move","from":"/a/b","path":"/a/b"}]`, `[{"op":"move","from":"/a/x","path":"/a/x"}]`}},
	{Doc: `{"a":1}`, Patches: []string{`[{"op":"move","from":"","path":""}]`, `[{"op":"move","from":"","path":"/b"}]`, `[{"op":"copy","from":"","path":"/b"}]`, `[{"op":"remove","path":""}]`}},
	{Doc: `{"a":1}`, Patches: []string{`[{"op":"replace","path":"","value":[]}]`, `[{"op":"add","path":"","value":1}]`, `[{"op":"replace","path":"","value":{"z":1}}]`}},
	{Doc: `{"a~b":1,"a/b":2,"~1":3}`, Patches: []string{`[{"op":"test","path":"/a~0b","value":1},{"op":"test","path":"/a~1b","value":2},{"op":"test","path":"/~01","value":3}]`, `[{"op":"test","path":"/a~2b","value":1}]`, `[{"op":"test","path":"/a~","value":1}]`}},
	{Doc: `{"a":1}`, Patches: []string{`[{"op":"test","path":"/a","value":1},{"op":"bogus","path":"/a"}]`, `[{"op":"test","path":"/a","value":2},{"op":"remove","path":""}]`, `[{"op":"remove","path":"/x"},{"op":"move","from":"/a","path":"/a/b"}]`}},
	{Doc: `{"a":1}`, Patches: []string{`[{"op":"add","path":"/b"}]`, `[{"op":"add","path":"/b","value":null}]`, `[{"op":"add","value":1}]`, `[{"op":"add","path":1,"value":1}]`, `[{"op":1,"path":"/a"}]`, `[1]`, `[null]`, `[]`}},
	{Doc: `{"a":1}`, Patches: []string{`{"a":null,"b":{"c":null,"d":[1,{"e":null}]}}`, `{}`, `{"b":null}`, `{"__proto__":{"x":1}}`, `{"__proto__":null}`}},
	{Doc: `{"a":{"b":1}}`, Patches: []string{`[{"op":"add","path":"/__proto__","value":{"x":1}},{"op":"test","path":"/__proto__/x","value":1},{"op":"remove","path":"/__proto__"}]`, `[{"op":"test","path":"/constructor","value":1}]`, `[{"op":"add","path":"/a/toString/x","value":1}]`}},
	{Doc: `{"a":1}`, Patches: []string{`1`, `null`, `"x"`, `true`}},
	{Raw: true, Doc: `[1,2]`, Patches: []string{`{"a":{"b":null}}`, `[1]`, `null`, `[{"op":"remove","path":"/a"}]`}},
	{Doc: `{"a":{"b":1}}`, Patches: []string{`{"a":[1]}`, `{"a":{"c":{"d":null}}}`, `{"a":1,"a":null}`}},
	{Doc: `{"a":[]}`, Patches: []string{`[{"op":"add","path":"/a/-","value":1},{"op":"add","path":"/a/-","value":2},{"op":"move","from":"/a/0","path":"/a/-"}]`, `[{"op":"copy","from":"/a/-","path":"/b"}]`, `[{"op":"move","from":"/a/0","path":"/a/1"}]`}},
	{Doc: `{"a":[]}`, Patches: []string{`[{"op":"add","path":"/a","value":1,"from":7,"extra":{}}]`, `[{"op":"remove","path":"/a","value":{"op":1}}]`, `[{"op":"test","path":"/a","value":1,"op":"add"}]`}},
}

// caseGen makes random cases. Values are built as Go values with
// json.Number numbers and written out by enc, which shuffles object members
// and can write numbers in other forms.
type caseGen struct {
	r *rand.Rand
}

var (
	diffKeys    = []string{"a", "b", "c", "0", "1", "01", "10", "-", "", "~", "/", "a/b", "~1", "m~n", "__proto__", "constructor", "toString", "hasOwnProperty"}
	diffNumbers = []string{"0", "1", "2", "-1", "1.0", "1.5", "-0", "1e0", "10e-1", "0.1", "100", "3.25"}
	diffStrings = []string{"x", "1", "", "a/b", "~0", "null", "é"}
)

func (g *caseGen) pick(n int) int        { return g.r.IntN(n) }
func (g *caseGen) chance(p float64) bool { return g.r.Float64() < p }

func (g *caseGen) scalar() any {
	switch g.pick(5) {
	case 0:
		return nil
	case 1:
		return g.chance(0.5)
	case 2:
		return diffStrings[g.pick(len(diffStrings))]
	default:
		return json.Number(diffNumbers[g.pick(len(diffNumbers))])
	}
}

func (g *caseGen) value(depth int) any {
	if depth <= 0 || g.chance(0.4) {
		return g.scalar()
	}
	if g.chance(0.5) {
		a := make([]any, g.pick(4))
		for i := range a {
			a[i] = g.value(depth - 1)
		}
		return a
	}
	return g.object(depth)
}

func (g *caseGen) object(depth int) map[string]any {
	m := map[string]any{}
	for range g.pick(5) {
		m[diffKeys[g.pick(len(diffKeys))]] = g.value(depth - 1)
	}
	return m
}

// enc writes v as JSON: members in a random order, and, when vary, numbers
// in another form of the same value.
func (g *caseGen) enc(b *strings.Builder, v any, vary bool) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		g.r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			g.enc(b, k, false)
			b.WriteByte(':')
			g.enc(b, v[k], vary)
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			g.enc(b, e, vary)
		}
		b.WriteByte(']')
	case json.Number:
		s := string(v)
		if vary && g.chance(0.7) {
			switch {
			case !strings.ContainsAny(s, ".eE"):
				s += ".0"
			case !strings.ContainsAny(s, "eE"):
				s += "e0"
			default:
				s = strings.Replace(strings.Replace(s, "e", "0e", 1), "E", "0E", 1)
				if !strings.Contains(s, ".") {
					s = strings.Replace(s, "0e", "e", 1) // "10e-1" stays valid
				}
			}
		}
		b.WriteString(s)
	default:
		j, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		b.Write(j)
	}
}

func (g *caseGen) text(v any, vary bool) string {
	var b strings.Builder
	g.enc(&b, v, vary)
	return b.String()
}

// pointers lists the paths of doc's values, as token lists, with the values.
type located struct {
	toks []string
	v    any
}

func diffPointers(v any, prefix []string, out []located) []located {
	out = append(out, located{prefix, v})
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys) // the cases must not depend on map order
		for _, k := range keys {
			out = diffPointers(v[k], append(slices.Clip(prefix), k), out)
		}
	case []any:
		for i, e := range v {
			out = diffPointers(e, append(slices.Clip(prefix), strconv.Itoa(i)), out)
		}
	}
	return out
}

func ptrText(toks []string) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

// path returns a JSON Pointer for doc: often one that exists, else one
// next to, below or beside an existing value, or a malformed one. It
// returns the value there when the pointer names one.
func (g *caseGen) path(locs []located) (string, any, bool) {
	l := locs[g.pick(len(locs))]
	switch g.pick(24) {
	case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11:
		return ptrText(l.toks), l.v, true
	case 12, 13, 14, 15, 16, 17: // a child that may not exist
		var tok string
		if a, ok := l.v.([]any); ok {
			tok = []string{"-", "0", strconv.Itoa(len(a)), strconv.Itoa(len(a) + 1), "01", "00", "1e0", "-1", "+1", " 1", "a"}[g.pick(11)]
		} else {
			tok = diffKeys[g.pick(len(diffKeys))]
		}
		return ptrText(append(slices.Clip(l.toks), tok)), nil, false
	case 18, 19: // two levels down
		return ptrText(append(slices.Clip(l.toks), diffKeys[g.pick(len(diffKeys))], "0")), nil, false
	case 20: // a token escaped wrongly, or not at all
		return ptrText(l.toks) + []string{"/~", "/~2", "/a~", "/~~", "/~01", "/~10", "/a/b"}[g.pick(7)], nil, false
	case 21:
		return []string{"", "a", "#/a", "/", "//", " /a"}[g.pick(6)], nil, false
	default:
		return ptrText(l.toks), l.v, true
	}
}

// op makes one operation for doc; now and then a malformed one.
func (g *caseGen) op(locs []located) string {
	names := []string{"add", "remove", "replace", "move", "copy", "test"}
	name := names[g.pick(len(names))]
	path, at, exists := g.path(locs)
	m := []string{`"op":` + strconv.Quote(name)}
	switch name {
	case "move", "copy":
		from, fv, fexists := g.path(locs)
		if g.chance(0.3) && fexists {
			// into a descendant of from, or onto it
			path = from + []string{"/x", "/0", "/-", "", "/x/y"}[g.pick(5)]
		}
		_ = fv
		m = append(m, `"from":`+strconv.Quote(from))
	}
	m = append(m, `"path":`+jsonQuote(path))
	switch name {
	case "add", "replace":
		m = append(m, `"value":`+g.text(g.value(3), false))
	case "test":
		switch {
		case exists && g.chance(0.6):
			m = append(m, `"value":`+g.text(at, true))
		case exists && g.chance(0.5):
			m = append(m, `"value":`+g.text(g.perturb(at), true))
		default:
			m = append(m, `"value":`+g.text(g.value(2), false))
		}
	}
	if g.chance(0.04) { // malformed or odd
		switch g.pick(8) {
		case 0:
			m = slices.DeleteFunc(m, func(s string) bool { return strings.HasPrefix(s, `"value"`) })
		case 1:
			m = slices.DeleteFunc(m, func(s string) bool { return strings.HasPrefix(s, `"path"`) })
		case 2:
			m[0] = `"op":"bogus"`
		case 3:
			m[0] = `"op":1`
		case 4:
			m = append(m, `"value":null`)
		case 5:
			m = append(m, `"extra":{"op":"remove"}`)
		case 6:
			m = append(m, `"path":7`)
		case 7:
			return `"not an op"`
		}
	}
	g.r.Shuffle(len(m), func(i, j int) { m[i], m[j] = m[j], m[i] })
	return "{" + strings.Join(m, ",") + "}"
}

func jsonQuote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// perturb returns v changed a little: a leaf replaced, an array reversed,
// a member added.
func (g *caseGen) perturb(v any) any {
	switch v := v.(type) {
	case []any:
		c := delta.Clone(v).([]any)
		if len(c) > 1 && g.chance(0.5) {
			slices.Reverse(c)
			return c
		}
		return append(c, g.scalar())
	case map[string]any:
		c := delta.Clone(v).(map[string]any)
		c[diffKeys[g.pick(len(diffKeys))]] = g.scalar()
		return c
	case json.Number:
		if g.chance(0.5) {
			return json.Number("-" + strings.TrimPrefix(string(v), "-"))
		}
		return json.Number("7")
	default:
		return g.scalar()
	}
}

// merge makes a merge patch for v: members of v's changed, deleted (null)
// or merged into, and new ones.
func (g *caseGen) merge(v any, depth int) map[string]any {
	m := map[string]any{}
	obj, _ := v.(map[string]any)
	for range g.pick(4) {
		k := diffKeys[g.pick(len(diffKeys))]
		if len(obj) > 0 && g.chance(0.6) {
			keys := make([]string, 0, len(obj))
			for k := range obj {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			k = keys[g.pick(len(keys))]
		}
		switch {
		case g.chance(0.3):
			m[k] = nil
		case depth > 0 && g.chance(0.4):
			m[k] = g.merge(obj[k], depth-1)
		default:
			m[k] = g.value(2)
		}
	}
	return m
}

func (g *caseGen) caseOf() diffCase {
	c := diffCase{}
	var doc any
	if g.chance(0.1) {
		c.Raw = true
		doc = g.value(3)
	} else {
		doc = g.object(4)
	}
	c.Doc = g.text(doc, false)
	// Operations are made for the document as the earlier ones (when they
	// apply) leave it, so that most runs apply far.
	cur := delta.Clone(doc)
	for range 1 + g.pick(3) {
		var text string
		switch g.pick(10) {
		case 0, 1, 2:
			text = g.text(g.merge(cur, 2), false)
		case 3:
			if g.chance(0.5) {
				text = g.text(g.scalar(), false)
			} else {
				text = "[]"
			}
		default:
			ops := make([]string, 1+g.pick(3))
			scratch := delta.Clone(cur)
			for i := range ops {
				ops[i] = g.op(diffPointers(scratch, nil, nil))
				if p, err := delta.ParseJSONPatch([]byte("[" + ops[i] + "]")); err == nil {
					_, _ = p.Apply(&scratch)
				}
			}
			text = "[" + strings.Join(ops, ",") + "]"
		}
		c.Patches = append(c.Patches, text)
		if p, err := delta.ParsePatch([]byte(text)); err == nil {
			next := delta.Clone(cur)
			if _, err := p.Apply(&next); err == nil {
				if _, ok := next.(map[string]any); ok || c.Raw {
					cur = next
				}
			}
		}
	}
	return c
}

// diffSeed is the generator's seed: 17, or JSDIFF_SEED to explore.
func diffSeed() uint64 {
	if s, err := strconv.ParseUint(os.Getenv("JSDIFF_SEED"), 10, 64); err == nil {
		return s
	}
	return 17
}
