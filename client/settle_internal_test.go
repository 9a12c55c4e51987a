package client

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
)

// TestSettleFromOutcomes sorts the pending edits after a snapshot answer
// (PROTOCOL.md §6.8) without a server: an outcome that says committed
// acknowledges its edit; an id between the oldest outcome and the
// watermark that is not among them was never decided (skipped over) and is
// re-issued, not reported as of unknown outcome; one older than every
// outcome is unknown (Options.ReissueUnknown decides); one above the
// watermark is resent as it is.
func TestSettleFromOutcomes(t *testing.T) {
	var mu sync.Mutex
	var askedUnknown []string
	opts := Options{URL: "ws://x/ws", ReissueUnknown: func(_ string, patch []byte, _ bool) bool {
		mu.Lock()
		defer mu.Unlock()
		askedUnknown = append(askedUnknown, string(patch))
		return true
	}}
	c := &Client{opts: opts.withDefaults(), entropy: newEntropy(), ev: newDispatcher()}
	defer c.ev.close()
	d := &Doc{c: c, id: "d", epoch: "01JD3KZ9X4B7N2Q5T8W1Y3C6F0", changed: make(chan struct{})}
	var acks []string
	d.onChange = []func(Change){func(ch Change) {
		if ch.Kind == ChangeAck {
			mu.Lock()
			acks = append(acks, ch.ReqID)
			mu.Unlock()
		}
	}}
	pending := func(id, patch string) *edit {
		p, err := delta.ParseJSONPatch([]byte(patch))
		if err != nil {
			t.Fatal(err)
		}
		return &edit{id: id, raw: json.RawMessage(patch), patch: p, sent: true, epoch: d.epoch}
	}
	old := pending("r-1", `[{"op":"add","path":"/old","value":1}]`)         // older than every outcome
	committed := pending("r-2", `[{"op":"add","path":"/c","value":1}]`)     // outcome: committed
	skipped := pending("r-3", `[{"op":"add","path":"/skipped","value":1}]`) // not among the outcomes
	above := pending("r-5", `[{"op":"add","path":"/above","value":1}]`)     // above the watermark
	d.pending = []*edit{old, committed, skipped, above}
	outs := []protocol.Outcome{{ClientReqID: "r-2", Rev: 7}, {ClientReqID: "r-4", Rev: 8}}

	c.mu.Lock()
	d.settleLocked("r-4", outs, true, false)
	c.mu.Unlock()

	var ids, raws []string
	for _, e := range d.pending {
		ids = append(ids, e.id)
		raws = append(raws, string(e.raw))
	}
	if want := []string{string(above.raw), string(old.raw), string(skipped.raw)}; !slices.Equal(raws, want) {
		t.Fatalf("pending %s, want %s", raws, want)
	}
	if ids[0] != "r-5" || ids[1] == "r-1" || ids[2] == "r-3" {
		t.Fatalf("ids %v: want r-5 resent as it is, the others re-issued under new ids", ids)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(acks, []string{"r-2"}) {
		t.Fatalf("acknowledged %v, want r-2", acks)
	}
	if !slices.Equal(askedUnknown, []string{string(old.raw)}) {
		t.Fatalf("asked about unknown outcomes of %v, want only the edit older than the outcomes", askedUnknown)
	}
}

// TestInFlightWindow: at most maxInFlight edits of a document are sent and
// unanswered at once, so that the outcomes a JOIN answer carries always
// cover every edit in flight; an answer frees a place for the next.
func TestInFlightWindow(t *testing.T) {
	opts := Options{URL: "ws://x/ws"}
	c := &Client{opts: opts.withDefaults(), entropy: newEntropy()}
	d := &Doc{c: c, id: "d", epoch: "01JD3KZ9X4B7N2Q5T8W1Y3C6F0", changed: make(chan struct{}), live: true}
	p, _ := delta.ParseMergePatch([]byte(`{"a":1}`))
	for range maxInFlight + 5 {
		d.pending = append(d.pending, &edit{id: c.newReqID(), raw: json.RawMessage(`{"a":1}`), patch: p, merge: true})
	}
	sent := func() (n int) {
		for _, e := range d.pending {
			if e.sent {
				n++
			}
		}
		return n
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d.flushLocked() // no session: sendLocked drops the message, the edit counts as sent
	if n := sent(); n != maxInFlight || maxInFlight != revision.MaxOutcomes {
		t.Fatalf("%d edits in flight, want %d (the outcomes a JOIN answer carries)", n, maxInFlight)
	}
	d.ackLocked(d.pending[0].id)
	d.flushLocked()
	if n := sent(); n != maxInFlight {
		t.Fatalf("after one answer, %d in flight, want %d", n, maxInFlight)
	}
}
