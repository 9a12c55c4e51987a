package server

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// Ids become subject tokens: whatever the id (dots, colons, the NATS
// wildcards, spaces, any byte), the token is one non-empty token without
// NATS's special characters, and distinct ids give distinct tokens.
func TestSubjectTokenRapid(t *testing.T) {
	for _, id := range []string{"a.b", "a:b", "*", ">", "a.*.>", "doc:x.y", " ", ""} {
		checkToken(t, id)
	}
	rapid.Check(t, func(t *rapid.T) {
		id := rapid.String().Draw(t, "id")
		tok := checkToken(t, id)
		other := rapid.String().Draw(t, "other")
		if other != id && subjectToken(other) == tok {
			t.Fatalf("ids %q and %q share the token %q", id, other, tok)
		}
	})
}

func checkToken(t interface{ Fatalf(string, ...any) }, id string) string {
	tok := subjectToken(id)
	if tok == "" || strings.ContainsAny(tok, ".*> \t\r\n") {
		t.Fatalf("id %q: token %q is not one plain subject token", id, tok)
	}
	if id != "" {
		back, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || string(back) != id {
			t.Fatalf("id %q: token %q does not decode back (%q, %v)", id, tok, back, err)
		}
	}
	return tok
}

// A room message on the bus decodes to what was encoded, and garbage is
// refused, never a panic.
func TestRoomMessageRoundTripRapid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		from := rapid.String().Draw(t, "from")
		exclude := rapid.String().Draw(t, "exclude")
		frame := rapid.SliceOfN(rapid.Byte(), 1, 200).Draw(t, "frame")
		f, x, fr, err := decodeRoomMessage(encodeRoomMessage(from, exclude, frame))
		if err != nil || f != from || x != exclude || !bytes.Equal(fr, frame) {
			t.Fatalf("round trip: %q %q %q %v", f, x, fr, err)
		}
		decodeRoomMessage(rapid.SliceOf(rapid.Byte()).Draw(t, "garbage"))
	})
	for _, bad := range [][]byte{nil, {}, {2}, {1}, {1, 5, 'a'}, {1, 0, 0}, {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		if _, _, _, err := decodeRoomMessage(bad); err == nil {
			t.Errorf("decoded %v", bad)
		}
	}
}
