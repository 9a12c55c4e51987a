package delta_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/deltasync/syncd/delta"
)

// suiteDir holds the JSON Patch test suite (github.com/json-patch/json-patch-tests),
// copied unchanged; see its README.md.
const suiteDir = "../testdata/json-patch-tests"

// suiteRecord is one test of the suite, still as decoded values.
type suiteRecord struct {
	name     string
	doc      any
	patch    []byte
	expected any
	hasExp   bool
	err      string
	hasErr   bool
	disabled bool
}

func loadSuite(t testing.TB, file string) []suiteRecord {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(suiteDir, file))
	if err != nil {
		t.Fatal(err)
	}
	v, err := delta.Decode(data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []suiteRecord
	for i, raw := range v.([]any) {
		m := raw.(map[string]any)
		r := suiteRecord{name: file + "#" + strconv.Itoa(i), doc: m["doc"]}
		if c, ok := m["comment"].(string); ok {
			r.name += " " + c
		}
		if r.patch, err = delta.Encode(m["patch"]); err != nil {
			t.Fatal(err)
		}
		r.expected, r.hasExp = m["expected"]
		if e, ok := m["error"]; ok {
			r.hasErr = true
			r.err, _ = e.(string)
		}
		r.disabled, _ = m["disabled"].(bool)
		out = append(out, r)
	}
	return out
}

// TestConformance runs every enabled record of the JSON Patch test suite:
// records with "expected" must produce it, records with "error" must fail and
// leave the document unchanged, others must merely not panic. Successful
// records also check SizeDelta and Undo.
func TestConformance(t *testing.T) {
	for _, file := range []string{"tests.json", "spec_tests.json"} {
		var run, expected, failing, other, disabled int
		for _, r := range loadSuite(t, file) {
			if r.disabled {
				disabled++
				continue
			}
			run++
			switch {
			case r.hasExp:
				expected++
			case r.hasErr:
				failing++
			default:
				other++
			}
			t.Run(r.name, func(t *testing.T) { runRecord(t, r) })
		}
		t.Logf("%s: ran %d records (%d expected, %d error, %d other); skipped %d disabled",
			file, run, expected, failing, other, disabled)
		if run == 0 {
			t.Fatalf("%s: no records ran", file)
		}
	}
}

func runRecord(t *testing.T, r suiteRecord) {
	doc := delta.Clone(r.doc)
	before := mustEncode(t, doc)
	p, err := delta.ParsePatch(r.patch)
	if err != nil {
		if r.hasExp {
			t.Fatalf("parse: %v", err)
		}
		if r.hasErr {
			assertSentinel(t, err)
		}
		return
	}
	ch, err := p.Apply(&doc)
	if err != nil {
		if r.hasExp {
			t.Fatalf("apply: %v", err)
		}
		assertSentinel(t, err)
		if after := mustEncode(t, doc); !bytes.Equal(before, after) {
			t.Fatalf("failed apply changed the document:\nbefore %s\nafter  %s", before, after)
		}
		return
	}
	if r.hasErr {
		t.Fatalf("applied, want error %q; result %s", r.err, mustEncode(t, doc))
	}
	if r.hasExp && !delta.Equal(doc, r.expected) {
		t.Fatalf("got %s, want %s", mustEncode(t, doc), mustEncode(t, r.expected))
	}
	after := mustEncode(t, doc)
	if got, want := ch.SizeDelta, len(after)-len(before); got != want {
		t.Errorf("SizeDelta = %d, want %d", got, want)
	}
	ch.Undo(&doc)
	if undone := mustEncode(t, doc); !bytes.Equal(before, undone) {
		t.Fatalf("Undo: got %s, want %s", undone, before)
	}
}
