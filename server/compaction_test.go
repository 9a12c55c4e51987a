package server_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
)

// fillKeys gives doc n members k0 … k<n-1> of about 100 bytes each: the
// catch-up benchmark's document.
func (ev *env) fillKeys(doc string, n int) {
	ev.t.Helper()
	m := map[string]any{}
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = map[string]any{"v": 0, "pad": strings.Repeat("x", 80)}
	}
	ev.commit(doc, m)
}

// editKeys makes n ~100-byte merge patches of members of doc drawn from
// keys members with a fixed seed, from Go (another client's edits).
func (ev *env) editKeys(doc string, n, keys int, seed uint64) {
	ev.t.Helper()
	r := rand.New(rand.NewPCG(seed, 0))
	for i := range n {
		ev.commit(doc, map[string]any{fmt.Sprintf("k%d", r.IntN(keys)): map[string]any{"v": i + 1, "pad": strings.Repeat("y", 80)}})
	}
}

// joinRaw sends JOIN from pos and returns the raw catch-up message, its
// payload decoded by the strict decoder, and the presence after it.
func (c *client) joinRaw(doc string, pos *revision.Position) (msg, protocol.SyncDeltas, protocol.SyncSnapshot) {
	c.t.Helper()
	p := map[string]any{"doc": doc}
	if pos != nil {
		p["rev"], p["epoch"] = pos.Rev, pos.Epoch
	}
	c.send(protocol.TypeJoin, p)
	m := c.read()
	var d protocol.SyncDeltas
	var s protocol.SyncSnapshot
	switch m.Type {
	case protocol.TypeSyncDeltas:
		if err := d.UnmarshalPayload(m.Payload); err != nil {
			c.t.Fatalf("strict decode of %.300s: %v", m, err)
		}
	case protocol.TypeSyncSnapshot:
		if err := s.UnmarshalPayload(m.Payload); err != nil {
			c.t.Fatal(err)
		}
	default:
		c.t.Fatalf("JOIN answered %.300s", m)
	}
	c.next(protocol.TypePresence)
	return m, d, s
}

// TestCatchUpCompacted: a client 1,000 revisions behind on a ~100 KB
// document of 1,000 members, edited with ~100-byte merge patches of random
// members, gets one SYNC.DELTAS whose operations combine the others'
// edits, smaller than the snapshot, and converges; live deltas after it
// are not compacted.
func TestCatchUpCompacted(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "catchup/compacted"
	ev.fillKeys(doc, 1000)
	a := ev.dial("")
	snap := a.join(doc)
	a.ws.Close()

	ev.editKeys(doc, 1000, 1000, 1)
	head := snap.Rev + 1000
	before := ev.engine.Stats().CatchUps

	fresh := ev.dial("")
	snapMsg, _, _ := fresh.joinRaw(doc, nil)

	a2 := ev.dial("")
	m, d, _ := a2.joinRaw(doc, &revision.Position{Epoch: snap.Epoch, Rev: snap.Rev})
	if m.Type != protocol.TypeSyncDeltas {
		t.Fatalf("1,000 behind: want compacted SYNC.DELTAS, got %s", m.Type)
	}
	if d.FromRev != snap.Rev || d.ToRev != head || len(d.Operations) >= 1000 {
		t.Fatalf("deltas %d..%d with %d operations, want %d..%d compacted", d.FromRev, d.ToRev, len(d.Operations), snap.Rev, head)
	}
	if len(m.Raw) >= len(snapMsg.Raw) {
		t.Fatalf("compacted deltas %d bytes, snapshot %d: want smaller", len(m.Raw), len(snapMsg.Raw))
	}
	combined := 0
	for _, op := range d.Operations {
		if op.FirstRev != 0 {
			combined++
			if op.ClientID != "" || op.ClientReqID != "" || op.Ts == 0 {
				t.Fatalf("combined operation %d..%d: %+v", op.FirstRev, op.Rev, op)
			}
		}
	}
	if combined == 0 {
		t.Fatal("no combined operation")
	}
	t.Logf("1,000 behind: %d operations (%d combined), %d bytes; snapshot %d bytes", len(d.Operations), combined, len(m.Raw), len(snapMsg.Raw))
	ev.converged(t, doc, applyOps(t, snap.State, snap.Rev, d.Operations))
	if after := ev.engine.Stats().CatchUps; after["compacted"] != before["compacted"]+1 {
		t.Fatalf("catch-ups %v → %v: want one compacted", before, after)
	}

	// Live deltas are never compacted.
	b := ev.dial("")
	b.join(doc)
	for i := range 3 {
		b.update(doc, map[string]any{"k1": map[string]any{"v": -i}}, b.nextReq())
	}
	seen := revision.Rev(0)
	for seen < head+3 {
		lm := a2.next(protocol.TypeSyncDeltas)
		var ld protocol.SyncDeltas
		if err := ld.UnmarshalPayload(lm.Payload); err != nil {
			t.Fatal(err)
		}
		for _, op := range ld.Operations {
			if op.FirstRev != 0 || op.ClientID != b.author {
				t.Fatalf("live operation %+v", op)
			}
			seen = op.Rev
		}
	}
}

// TestCatchUpFarBehindIsSnapshot: 100 times the document's size in
// operations behind, the answer is the snapshot (a gap of reason smaller),
// decided without reading or compacting the operations.
func TestCatchUpFarBehindIsSnapshot(t *testing.T) {
	ev := newEnv(t, syncd.Options{RingSize: 64}, server.Options{})
	const doc = "catchup/far"
	ev.fillKeys(doc, 10)
	a := ev.dial("")
	snap := a.join(doc)
	a.ws.Close()
	ev.editKeys(doc, 300, 10, 2) // ~30 KB of operations, a ~1 KB document

	a2 := ev.dial("")
	ans := a2.joinAt(doc, revision.Position{Epoch: snap.Epoch, Rev: snap.Rev})
	if ans.gap == nil || ans.gap.Reason != protocol.GapSmaller || ans.snap == nil {
		t.Fatalf("300 behind a 1 KB document: want gap (smaller) + snapshot, got %+v %+v", ans.gap, ans.deltas)
	}
	ev.converged(t, doc, ans.snap.State)
}
