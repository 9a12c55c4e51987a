package delta

import (
	"encoding/json"
)

// Clone returns a deep copy of v: objects and arrays are copied, strings,
// numbers and booleans (which are immutable) are shared.
func Clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = Clone(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = Clone(e)
		}
		return a
	default:
		return v
	}
}

// Equal reports whether a and b are the same JSON value in the sense of
// RFC 6902 §4.6: same type; numbers numerically equal (1, 1.0, 1e0 and 10e-1
// are equal, and so are 0 and -0); strings equal byte for byte; arrays equal
// element by element; objects with the same member names and equal values,
// in any order. A value outside the model of Decode is never equal to
// anything.
func Equal(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case string:
		bs, ok := b.(string)
		return ok && a == bs
	case json.Number:
		bn, ok := b.(json.Number)
		return ok && numberEqual(string(a), string(bn))
	case []any:
		ba, ok := b.([]any)
		if !ok || len(a) != len(ba) {
			return false
		}
		for i := range a {
			if !Equal(a[i], ba[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, av := range a {
			bv, ok := bm[k]
			if !ok || !Equal(av, bv) {
				return false
			}
		}
		return true
	default:
		return false
	}
}

// Depth returns how deeply v nests: 0 for a string, number, boolean or
// null, and for an array or object one more than its deepest element or
// member ({} and [] are 1, {"a":[1]} is 2). A value at a JSON Pointer of n
// tokens sits inside n containers, so the document nests n + Depth(v)
// deep there.
func Depth(v any) int {
	switch v := v.(type) {
	case map[string]any:
		d := 0
		for _, e := range v {
			d = max(d, Depth(e))
		}
		return 1 + d
	case []any:
		d := 0
		for _, e := range v {
			d = max(d, Depth(e))
		}
		return 1 + d
	default:
		return 0
	}
}
