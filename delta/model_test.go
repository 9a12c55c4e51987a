package delta_test

import (
	"encoding/json"
	"math/big"
	"regexp"
	"strconv"

	"github.com/deltasync/syncd/delta"
)

// A deliberately naive reference implementation of RFC 6902 and RFC 7396,
// written straight from the RFCs' text and sharing no code with the package
// (beyond Clone and ParsePointer): it copies the document and rebuilds
// arrays, so it is slow but easy to check by eye. The property tests compare
// the package against it.

var indexRE = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

// modelIndex parses an array index (RFC 6901 §4), accepting at most max.
func modelIndex(tok string, max int) (int, bool) {
	if !indexRE.MatchString(tok) {
		return 0, false
	}
	i, err := strconv.Atoi(tok)
	return i, err == nil && i <= max
}

func modelGet(v any, toks []string) (any, bool) {
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

func modelAdd(v any, toks []string, x any) (any, bool) {
	if len(toks) == 0 {
		return x, true
	}
	tok, rest := toks[0], toks[1:]
	switch c := v.(type) {
	case map[string]any:
		if len(rest) == 0 {
			c[tok] = x
			return c, true
		}
		child, ok := c[tok]
		if !ok {
			return nil, false
		}
		nc, ok := modelAdd(child, rest, x)
		c[tok] = nc
		return c, ok
	case []any:
		if len(rest) == 0 {
			i, ok := len(c), true
			if tok != "-" {
				i, ok = modelIndex(tok, len(c))
			}
			if !ok {
				return nil, false
			}
			var out []any
			out = append(out, c[:i]...)
			out = append(out, x)
			return append(out, c[i:]...), true
		}
		i, ok := modelIndex(tok, len(c)-1)
		if !ok {
			return nil, false
		}
		nc, ok := modelAdd(c[i], rest, x)
		c[i] = nc
		return c, ok
	default:
		return nil, false
	}
}

func modelRemove(v any, toks []string) (any, bool) {
	if len(toks) == 0 {
		return nil, false
	}
	tok, rest := toks[0], toks[1:]
	switch c := v.(type) {
	case map[string]any:
		child, ok := c[tok]
		if !ok {
			return nil, false
		}
		if len(rest) == 0 {
			delete(c, tok)
			return c, true
		}
		nc, ok := modelRemove(child, rest)
		c[tok] = nc
		return c, ok
	case []any:
		i, ok := modelIndex(tok, len(c)-1)
		if !ok {
			return nil, false
		}
		if len(rest) == 0 {
			var out []any
			out = append(out, c[:i]...)
			return append(out, c[i+1:]...), true
		}
		nc, ok := modelRemove(c[i], rest)
		c[i] = nc
		return c, ok
	default:
		return nil, false
	}
}

func mustTokens(v any) []string {
	toks, err := delta.ParsePointer(v.(string))
	if err != nil {
		panic(err)
	}
	return toks
}

// modelJSONPatch applies a well-formed JSON Patch (already accepted by
// ParseJSONPatch) to a copy of doc. ok is false if the patch fails.
func modelJSONPatch(doc any, patch []any) (result any, ok bool) {
	doc = delta.Clone(doc)
	for _, raw := range patch {
		o := raw.(map[string]any)
		path := mustTokens(o["path"])
		switch o["op"] {
		case "add":
			doc, ok = modelAdd(doc, path, delta.Clone(o["value"]))
		case "remove":
			doc, ok = modelRemove(doc, path)
		case "replace":
			if _, ok = modelGet(doc, path); !ok {
				break
			}
			if len(path) == 0 {
				doc = delta.Clone(o["value"])
				break
			}
			if doc, ok = modelRemove(doc, path); ok {
				doc, ok = modelAdd(doc, path, delta.Clone(o["value"]))
			}
		case "move":
			from := mustTokens(o["from"])
			var v any
			if v, ok = modelGet(doc, from); !ok || o["from"] == o["path"] {
				break
			}
			if doc, ok = modelRemove(doc, from); ok {
				doc, ok = modelAdd(doc, path, v)
			}
		case "copy":
			var v any
			if v, ok = modelGet(doc, mustTokens(o["from"])); ok {
				doc, ok = modelAdd(doc, path, delta.Clone(v))
			}
		case "test":
			var v any
			if v, ok = modelGet(doc, path); ok {
				ok = modelEqual(v, o["value"])
			}
		}
		if !ok {
			return nil, false
		}
	}
	return doc, true
}

// modelMergePatch is the MergePatch function of RFC 7396 §2, on copies.
func modelMergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return delta.Clone(patch)
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	} else {
		t = delta.Clone(t).(map[string]any)
	}
	for name, v := range p {
		if v == nil {
			delete(t, name)
			continue
		}
		t[name] = modelMergePatch(t[name], v)
	}
	return t
}

// modelEqual is RFC 6902 §4.6 equality, with numbers compared as exact
// rationals.
func modelEqual(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		x, ok1 := new(big.Rat).SetString(string(a))
		y, ok2 := new(big.Rat).SetString(string(b))
		return ok1 && ok2 && x.Cmp(y) == 0
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !modelEqual(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, x := range a {
			y, ok := b[k]
			if !ok || !modelEqual(x, y) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

// isPrefixPath reports whether pointer p is a token-wise prefix of (or
// equal to) pointer q, by comparing tokens.
func isPrefixPath(p, q string) bool {
	pt, _ := delta.ParsePointer(p)
	qt, _ := delta.ParsePointer(q)
	if len(pt) > len(qt) {
		return false
	}
	for i := range pt {
		if pt[i] != qt[i] {
			return false
		}
	}
	return true
}

// changedLocations lists where a and b differ: the path of each differing
// value, descending into objects present on both sides; a difference inside
// an array is reported at the array, as path sets record it.
func changedLocations(a, b any, path string, out []string) []string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		for k, x := range am {
			y, ok := bm[k]
			if !ok {
				out = append(out, path+"/"+escapeToken(k))
				continue
			}
			out = changedLocations(x, y, path+"/"+escapeToken(k), out)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				out = append(out, path+"/"+escapeToken(k))
			}
		}
		return out
	}
	if !sameJSON(a, b) {
		out = append(out, path)
	}
	return out
}

// sameJSON reports whether a and b encode identically (1 and 1.0 differ).
func sameJSON(a, b any) bool {
	x, err1 := delta.Encode(a)
	y, err2 := delta.Encode(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// parseRejects reports whether the raw operation o is a move into its own
// child or a remove of the root: the two errors ParseJSONPatch finds in
// otherwise well-formed operations.
func parseRejects(o map[string]any) bool {
	path, _ := o["path"].(string)
	switch o["op"] {
	case "remove":
		return path == ""
	case "move":
		from, _ := o["from"].(string)
		return from != path && isPrefixPath(from, path)
	}
	return false
}

// modelValidOp reports whether o is an operation RFC 6902 accepts, without
// a document: a known op with the members it needs, of the right types,
// holding valid pointers.
func modelValidOp(raw any) bool {
	o, ok := raw.(map[string]any)
	if !ok {
		return false
	}
	validPointer := func(member string) bool {
		s, ok := o[member].(string)
		if !ok {
			return false
		}
		_, err := delta.ParsePointer(s)
		return err == nil
	}
	_, hasValue := o["value"]
	switch o["op"] {
	case "add", "replace", "test":
		return validPointer("path") && hasValue
	case "remove":
		return validPointer("path") && !parseRejects(o)
	case "move":
		return validPointer("path") && validPointer("from") && !parseRejects(o)
	case "copy":
		return validPointer("path") && validPointer("from")
	}
	return false
}
