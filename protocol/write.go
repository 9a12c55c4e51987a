package protocol

import (
	"encoding/json"
	"strconv"

	"github.com/deltasync/syncd/internal/jsonkit"
	"github.com/deltasync/syncd/revision"
)

// This file appends JSON to byte slices. The message types encode
// themselves with it (their AppendJSON methods) so that the encoder decides,
// field by field, what is omitted: an absent optional field is left out,
// never written as null, and a list is written as [] when empty.

// Appender is implemented by payloads that can append their own JSON
// encoding to dst. [AppendMessage] uses it instead of encoding/json.
type Appender interface {
	AppendJSON(dst []byte) []byte
}

func appendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// A field appender appends one object member: key, the member's name with
// its punctuation as it goes on the wire (`{"doc":` for the first member,
// `,"epoch":` for the others), then the value. An encoder is a list of them,
// one line a field. Keys are constants of this package and need no
// escaping; whole keys are one append each, and every appender is small
// enough to be inlined: the encoders are on the hot path of every message.

func appendStringField(dst []byte, key, v string) []byte {
	return jsonkit.AppendString(append(dst, key...), v)
}

func appendUintField(dst []byte, key string, v uint64) []byte {
	return strconv.AppendUint(append(dst, key...), v, 10)
}

func appendIntField(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(dst, key...), v, 10)
}

// appendRawField appends a free-JSON member, written as def when empty (see
// appendRaw).
func appendRawField(dst []byte, key string, raw json.RawMessage, def string) []byte {
	return appendRaw(append(dst, key...), raw, def)
}

// The optional field appenders leave an absent member out (never written
// as null): absent is the zero value, or nil.

func appendOptString(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	return appendStringField(dst, key, v)
}

func appendOptUint(dst []byte, key string, v uint64) []byte {
	if v == 0 {
		return dst
	}
	return strconv.AppendUint(append(dst, key...), v, 10)
}

func appendOptRev(dst []byte, key string, v *revision.Rev) []byte {
	if v == nil {
		return dst
	}
	return strconv.AppendUint(append(dst, key...), uint64(*v), 10)
}

func appendOptRaw(dst []byte, key string, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return dst
	}
	return append(append(dst, key...), raw...)
}

// appendList appends a JSON array of items; nil is written as [].
func appendList[T Appender](dst []byte, items []T) []byte {
	dst = append(dst, '[')
	for i := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = items[i].AppendJSON(dst)
	}
	return append(dst, ']')
}

// appendRaw appends a free-JSON value. The caller promises it is valid JSON;
// an empty value is written as def, so that the output is always valid.
func appendRaw(dst []byte, raw json.RawMessage, def string) []byte {
	if len(raw) == 0 {
		return append(dst, def...)
	}
	return append(dst, raw...)
}

// appendStrings appends a JSON array of strings; nil is written as [].
func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonkit.AppendString(dst, s)
	}
	return append(dst, ']')
}
