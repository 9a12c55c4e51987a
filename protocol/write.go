package protocol

import (
	"encoding/json"
	"strconv"

	"github.com/deltasync/syncd/internal/jsonkit"
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

// appendKey appends `,"name":` (or without the comma for the first field).
// Names are constants of this package and need no escaping.
func appendKey(dst []byte, first bool, name string) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

func appendUint(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }
func appendInt(dst []byte, v int64) []byte   { return strconv.AppendInt(dst, v, 10) }

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
