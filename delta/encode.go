package delta

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/deltasync/syncd/internal/jsonkit"
)

// Encode returns the canonical encoding of v: compact JSON with object
// members sorted by name (byte-wise) and no HTML escaping. The same value
// always encodes to the same bytes, which lets the engine compare and cache
// snapshots, and matches encoding/json (with SetEscapeHTML(false)) byte for
// byte on the value model of Decode.
//
// It fails if v holds anything outside that model or a json.Number that is
// not a JSON number.
func Encode(v any) ([]byte, error) {
	n := Size(v)
	if n < 0 {
		// Let the encoder find and describe the bad value.
		return AppendEncode(nil, v)
	}
	// Sizing first costs a walk without sorting, and saves the repeated
	// growing and copying of the output (about twice its size otherwise).
	return AppendEncode(make([]byte, 0, n), v)
}

// AppendEncode appends the canonical encoding of v to dst, so a caller can
// reuse buffers and put the document straight into a larger message. On
// error it returns dst unchanged.
func AppendEncode(dst []byte, v any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	out, err := e.value(dst, v)
	e.release()
	if err != nil {
		return dst, err
	}
	return out, nil
}

// encoder holds one stack of object member names shared by all nesting
// levels, so sorting members allocates nothing once the pool is warm.
type encoder struct {
	keys []string
	high int // highest length of keys, to clear the names it holds
}

var encoders = sync.Pool{New: func() any { return new(encoder) }}

func (e *encoder) release() {
	// Drop the names so a pooled encoder does not pin old documents, and
	// do not pool an encoder grown by one huge object.
	clear(e.keys[:e.high])
	e.keys, e.high = e.keys[:0], 0
	if cap(e.keys) <= 1<<12 {
		encoders.Put(e)
	}
}

func (e *encoder) value(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if v {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return jsonkit.AppendString(dst, v), nil
	case json.Number:
		if !validNumber(string(v)) {
			return dst, fmt.Errorf("delta: encode: invalid number %q", string(v))
		}
		return append(dst, v...), nil
	case rawJSON:
		return append(dst, v...), nil
	case []any:
		dst = append(dst, '[')
		var err error
		for i, x := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = e.value(dst, x); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		start := len(e.keys)
		for k := range v {
			e.keys = append(e.keys, k)
		}
		e.high = max(e.high, len(e.keys))
		end := len(e.keys)
		slices.Sort(e.keys[start:end])
		dst = append(dst, '{')
		var err error
		for i := start; i < end; i++ {
			// Index e.keys afresh: nested objects may have grown
			// (and moved) the stack; they truncate it back to end.
			k := e.keys[i]
			if i > start {
				dst = append(dst, ',')
			}
			dst = jsonkit.AppendString(dst, k)
			dst = append(dst, ':')
			if dst, err = e.value(dst, v[k]); err != nil {
				return dst, err
			}
		}
		e.keys = e.keys[:start]
		return append(dst, '}'), nil
	default:
		return dst, fmt.Errorf("delta: encode: unsupported type %T", v)
	}
}

// Size returns len(Encode(v)) without encoding: it walks v once, without
// sorting or allocating. It returns -1 when Encode would fail.
func Size(v any) int {
	switch v := v.(type) {
	case nil:
		return 4
	case bool:
		if v {
			return 4
		}
		return 5
	case string:
		return jsonkit.StringSize(v)
	case json.Number:
		if !validNumber(string(v)) {
			return -1
		}
		return len(v)
	case rawJSON:
		return len(v)
	case []any:
		n := 2
		if len(v) > 1 {
			n += len(v) - 1
		}
		for _, x := range v {
			s := Size(x)
			if s < 0 {
				return -1
			}
			n += s
		}
		return n
	case map[string]any:
		n := 2
		if len(v) > 1 {
			n += len(v) - 1
		}
		for k, x := range v {
			s := Size(x)
			if s < 0 {
				return -1
			}
			n += jsonkit.StringSize(k) + 1 + s
		}
		return n
	default:
		return -1
	}
}
