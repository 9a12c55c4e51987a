package delta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Decode parses data, which must hold exactly one JSON value (surrounding
// white space allowed), into the value model of this package: map[string]any,
// []any, string, json.Number, bool and nil.
//
// Numbers stay json.Number, never float64, so that their text survives a
// round trip exactly (float64 would turn 12345678901234567890 into
// 12345678901234567000 and 1.0 into 1, changing documents nobody edited).
// Invalid UTF-8 in strings is replaced by U+FFFD, as encoding/json does.
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			return nil, errors.New("delta: decode: no JSON value")
		}
		return nil, fmt.Errorf("delta: decode: %w", err)
	}
	// A second value, or any other non-space byte, after the first is an
	// error: "{} {}" is not one document, and silently taking the first
	// would hide a client bug.
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("delta: decode: data after the JSON value")
	}
	return v, nil
}

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
