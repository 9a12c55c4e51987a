package protocol

import (
	"slices"
	"strings"
	"testing"
)

// TestOutcomesRoundTrip: the outcomes of a JOIN answer encode and decode,
// and an entry must have exactly one of rev and code.
func TestOutcomesRoundTrip(t *testing.T) {
	outs := []Outcome{{ClientReqID: "r1", Rev: 7}, {ClientReqID: "r2", Code: CodeAborted}}
	snap := SyncSnapshot{Doc: "d", Epoch: "01JD3KZ9X4B7N2Q5T8W1Y3C6F0", Rev: 7, State: []byte(`{}`), AckedReqID: "r2", Outcomes: outs}
	enc := string(snap.AppendJSON(nil))
	if !strings.Contains(enc, `"outcomes":[{"clientReqId":"r1","rev":7},{"clientReqId":"r2","code":"ABORTED"}]`) {
		t.Fatalf("encoded %s", enc)
	}
	var back SyncSnapshot
	if err := back.UnmarshalPayload([]byte(enc)); err != nil || !slices.Equal(back.Outcomes, outs) {
		t.Fatalf("decoded %+v, %v", back.Outcomes, err)
	}
	deltas := SyncDeltas{Doc: "d", Epoch: snap.Epoch, FromRev: 7, ToRev: 7, AckedReqID: "r2", Outcomes: outs}
	var d SyncDeltas
	if err := d.UnmarshalPayload(deltas.AppendJSON(nil)); err != nil || !slices.Equal(d.Outcomes, outs) {
		t.Fatalf("deltas decoded %+v, %v", d.Outcomes, err)
	}
	for _, bad := range []string{`[{"clientReqId":"r1"}]`, `[{"clientReqId":"r1","rev":1,"code":"ABORTED"}]`, `[{"rev":1}]`, `[1]`, `{}`} {
		in := `{"doc":"d","epoch":"01JD3KZ9X4B7N2Q5T8W1Y3C6F0","rev":1,"state":{},"outcomes":` + bad + `}`
		if err := new(SyncSnapshot).UnmarshalPayload([]byte(in)); err == nil {
			t.Errorf("outcomes %s accepted", bad)
		}
	}
	if enc := string(SyncSnapshot{Doc: "d", Epoch: snap.Epoch, State: []byte(`{}`)}.AppendJSON(nil)); strings.Contains(enc, "outcomes") {
		t.Errorf("no outcomes encoded as %s", enc)
	}
}
