package natsstore

import (
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestTokenRoundTrip: any id encodes to one valid subject token (and KV
// key) and decodes back to itself.
func TestTokenRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		id := rapid.String().Draw(t, "id")
		if id == "" {
			id = "x"
		}
		tok, err := encodeToken(id)
		if err != nil {
			t.Fatal(err)
		}
		if tok == "" || strings.ContainsAny(tok, ".*> \t\r\n:") {
			t.Fatalf("token %q of %q is not a valid subject token", tok, id)
		}
		for _, c := range []byte(tok) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				t.Fatalf("token %q has %q", tok, c)
			}
		}
		back, err := decodeToken(tok)
		if err != nil || back != id {
			t.Fatalf("%q → %q → %q, %v", id, tok, back, err)
		}
	})
	for _, bad := range []string{"", "_", "_4", "_G0", "a_zz"} {
		if _, err := decodeToken(bad); err == nil {
			t.Errorf("decodeToken(%q) succeeded", bad)
		}
	}
	if tok, _ := encodeToken("a.b/c:d"); tok != "a_2Eb_2Fc_3Ad" {
		t.Errorf("a.b/c:d encodes to %q", tok)
	}
}

// TestFrameRoundTrip: log and snapshot bodies decode to what was encoded,
// and a truncated body is an error, not a panic.
func TestFrameRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sn := &snapshot{
			epoch: "E", epochSeq: rapid.Uint64().Draw(t, "es"), fromSeq: rapid.Uint64().Draw(t, "fs"),
			state:   []byte(rapid.String().Draw(t, "state")),
			clients: map[string]*client{rapid.String().Draw(t, "client"): {at: rapid.Int64().Draw(t, "at")}},
		}
		b := encodeSnapshot(sn)
		got, err := decodeSnapshot(b)
		if err != nil || got.epochSeq != sn.epochSeq || got.fromSeq != sn.fromSeq || string(got.state) != string(sn.state) || len(got.clients) != 1 {
			t.Fatalf("snapshot round trip: %+v, %v", got, err)
		}
		cut := rapid.IntRange(0, len(b)-1).Draw(t, "cut")
		if _, err := decodeSnapshot(b[:cut]); err == nil && cut < len(b) {
			// A prefix may decode only if it happens to be whole; the
			// clients count makes that impossible here.
			t.Fatalf("a snapshot cut at %d of %d decoded", cut, len(b))
		}
	})
}
