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
