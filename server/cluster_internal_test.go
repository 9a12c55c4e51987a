package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
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

// recordingBus keeps what is published; it delivers nothing.
type recordingBus struct {
	id  string
	mu  sync.Mutex
	out []busMessage
}

type busMessage struct {
	subject string
	data    []byte
}

func (b *recordingBus) ID() string { return b.id }

func (b *recordingBus) Publish(subject string, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.out = append(b.out, busMessage{subject, append([]byte(nil), data...)})
	return nil
}

func (b *recordingBus) Subscribe(string, func([]byte)) (func() error, error) {
	return func() error { return nil }, nil
}

func testCluster(t *testing.T, id string) (*cluster, *recordingBus) {
	t.Helper()
	bus := &recordingBus{id: id}
	o := Options{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := o.withBusDefaults(); err != nil {
		t.Fatal(err)
	}
	c, err := newCluster(&Server{}, o)
	if err != nil {
		t.Fatal(err)
	}
	return c, bus
}

// A heartbeat of an instance holding presence in many documents comes in
// parts, and the receiver knows them all once it has every part.
func TestHeartbeatParts(t *testing.T) {
	a, abus := testCluster(t, "A")
	const docs = 2*heartbeatDocsPerPart + 7
	for i := range docs {
		a.presence.localChange(fmt.Sprintf("doc/%d", i), "client", json.RawMessage(`1`))
	}
	abus.mu.Lock()
	abus.out = nil
	abus.mu.Unlock()
	a.presence.sendHeartbeat()

	b, _ := testCluster(t, "B")
	var parts int
	for _, m := range abus.out {
		if m.subject != subjectHeartbeat {
			t.Fatalf("heartbeat on %q", m.subject)
		}
		if len(m.data) > 512<<10 {
			t.Fatalf("a heartbeat part of %d bytes", len(m.data))
		}
		parts++
		b.presence.onHeartbeat(m.data)
	}
	if parts != 3 {
		t.Fatalf("%d parts, want 3", parts)
	}
	b.presence.mu.Lock()
	defer b.presence.mu.Unlock()
	pr := b.presence.peers["A"]
	if pr == nil || len(pr.docs) != docs || pr.docs["doc/0"] != 1 || pr.docs[fmt.Sprintf("doc/%d", docs-1)] != docs {
		t.Fatalf("B knows %d of A's documents", len(pr.docs))
	}
}
