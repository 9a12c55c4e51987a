package protocol_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/deltasync/syncd/protocol"
)

// TestSpecExamples decodes every example message of PROTOCOL.md (lines
// "→ {…}" and "← {…}") with the strict decoders: the normative examples
// must be what the decoders accept. Types without a payload decoder here
// (RPC replies, control frames, the unknown type of an example) are checked
// as envelopes only. An example of bad input must be followed by the
// error that answers it: an ERROR whose message is the decoder's.
func TestSpecExamples(t *testing.T) {
	f, err := os.Open("../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byType := map[string]spec{}
	for _, sp := range specs {
		byType[sp.name] = sp
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	line, n := 0, 0
	var bad string // the decoder's message for the previous example, if it was refused
	badLine := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		var msg string
		switch {
		case strings.HasPrefix(text, "→ {"), strings.HasPrefix(text, "← {"):
			msg = strings.TrimSpace(text[len("→ "):])
		default:
			continue
		}
		n++
		env, err := protocol.DecodeEnvelope([]byte(msg))
		if err != nil {
			t.Errorf("PROTOCOL.md:%d: envelope: %v", line, err)
			continue
		}
		if bad != "" {
			var e protocol.ErrorPayload
			if env.Type != protocol.TypeError || e.UnmarshalPayload(env.Payload) != nil || !strings.Contains(bad, e.Message) {
				t.Errorf("PROTOCOL.md:%d: payload refused (%s) and not answered by that ERROR", badLine, bad)
			}
			bad = ""
			continue
		}
		sp, ok := byType[env.Type]
		if !ok || env.Payload == nil {
			continue
		}
		v := sp.new()
		if err := v.UnmarshalPayload(env.Payload); err != nil {
			bad, badLine = err.Error(), line
			continue
		}
		if d, ok := v.(*protocol.SyncDeltas); ok {
			// The operations cover fromRev+1 … toRev contiguously.
			at := d.FromRev
			for _, op := range d.Operations {
				if op.First() != at+1 {
					t.Errorf("PROTOCOL.md:%d: operation %d..%d after %d", line, op.First(), op.Rev, at)
				}
				at = op.Rev
			}
			if at != d.ToRev {
				t.Errorf("PROTOCOL.md:%d: operations end at %d, toRev %d", line, at, d.ToRev)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if bad != "" {
		t.Errorf("PROTOCOL.md:%d: payload refused: %s", badLine, bad)
	}
	if n < 50 {
		t.Fatalf("found only %d examples", n)
	}
}
