package router_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// TestNewFrameMetaSizes: small and large messages (larger than the pooled
// scratch buffers, which a large one takes over) encode exactly, and
// frames do not share memory: each stays as encoded after later ones.
func TestNewFrameMetaSizes(t *testing.T) {
	var frames []*router.Frame
	var want []string
	for i, n := range []int{10, 200 << 10, 50, 70 << 10, 64<<10 - 40, 20} {
		payload := map[string]string{"data": strings.Repeat(string(rune('a'+i)), n)}
		f, err := router.NewFrameMeta("T", protocol.Meta{CorrelationID: "c"}, payload)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := json.Marshal(payload)
		frames = append(frames, f)
		want = append(want, `{"type":"T","meta":{"correlationId":"c"},"payload":`+string(p)+`}`)
	}
	for i, f := range frames {
		if got := string(f.Bytes()); got != want[i] {
			t.Errorf("frame %d: %d bytes, want %d (%.60s…)", i, len(got), len(want[i]), got)
		}
	}
}

// A frame carried here already encoded (a cluster bus's room message) is
// droppable when made so, like NewDroppableFrame's, and carries its bytes
// as they are.
func TestRawDroppableFrame(t *testing.T) {
	data := []byte(`{"type":"MESSAGE","meta":{"timestamp":1},"payload":{"data":1}}`)
	f := router.RawDroppableFrame(data)
	if !f.Droppable() || string(f.Bytes()) != string(data) {
		t.Fatalf("droppable %v, bytes %s", f.Droppable(), f.Bytes())
	}
	if router.RawFrame(data).Droppable() {
		t.Fatal("RawFrame is droppable")
	}
}
