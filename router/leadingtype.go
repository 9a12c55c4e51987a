package router

import "github.com/deltasync/syncd/protocol"

// leadingType returns the type of a message that starts with its type
// field, as every syncd client writes it ({"type":"UPDATE",…), or "" for
// any other message. The flood guard names the message it drops with it:
// decoding the envelope of a message it will not handle would cost what the
// guard is there to save, while this looks at a few dozen bytes at most.
func leadingType(msg []byte) string {
	const prefix = `{"type":"`
	if len(msg) < len(prefix) || string(msg[:len(prefix)]) != prefix {
		return ""
	}
	rest := msg[len(prefix):]
	for i, b := range rest {
		switch {
		case i >= protocol.MaxTypeLength:
			return ""
		case b == '"':
			if i == 0 {
				return ""
			}
			return string(rest[:i])
		case b == '\\' || b < 0x20 || b >= 0x7f:
			return "" // an escape or a byte a type never holds: not worth decoding here
		}
	}
	return ""
}
