package client_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
)

// TestRejoinCompacted: a client with pending edits loses their echoes and
// its connection while others make 1,000 edits of a ~100 KB document; it
// rejoins and gets a compacted catch-up (the others' operations combined,
// its own as committed). It sees its own operations committed, so it
// resends nothing: every edit lands exactly once, the one made while
// disconnected included, and its view, rebased over the combined
// operation, equals the server's state.
func TestRejoinCompacted(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "compacted"
	fill := map[string]any{}
	for i := range 1000 {
		fill[fmt.Sprintf("k%d", i)] = map[string]any{"v": 0, "pad": strings.Repeat("x", 80)}
	}
	ev.commit(doc, fill)
	r := rand.New(rand.NewPCG(7, 0))
	others := func(n int) {
		for range n {
			ev.commit(doc, map[string]any{fmt.Sprintf("k%d", r.IntN(1000)): map[string]any{"v": r.IntN(1e6), "pad": strings.Repeat("y", 80)}})
		}
	}

	p := newProxy(t, ev.addr)
	c := dial(t, p.url, nil)
	d := join(t, c, doc)
	others(300)
	if err := d.WaitRev(ctxT(t), ev.snapshot(doc).Rev); err != nil {
		t.Fatal(err)
	}

	// Two edits commit, but their echoes are lost.
	p.muted.Store(true)
	head := ev.snapshot(doc).Rev
	if _, err := d.Merge(`{"mine":{"a":1}}`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Patch(`[{"op":"add","path":"/mine/b","value":2}]`); err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, ev, doc, head+2)
	others(700)
	before := ev.engine.Stats().CatchUps["compacted"]
	p.muted.Store(false)
	p.dropAll()
	// One more, while the connection is down: sent after the catch-up.
	if _, err := d.Merge(`{"mine":{"c":3}}`); err != nil {
		t.Fatal(err)
	}

	converged(t, ev, doc, d)
	// At least one: on a loaded machine a heartbeat can time out and the
	// client rejoin once more, which is allowed; what must hold whatever
	// the number of rejoins is below.
	if got := ev.engine.Stats().CatchUps["compacted"]; got <= before {
		t.Fatalf("compacted catch-ups %d → %d: want at least one", before, got)
	}
	for _, payload := range []string{`{"mine":{"a":1}}`, `[{"op":"add","path":"/mine/b","value":2}]`, `{"mine":{"c":3}}`} {
		if n := countPayload(ev, doc, payload); n != 1 {
			t.Fatalf("%s in the log %d times, want once", payload, n)
		}
	}
	var v struct{ Mine struct{ A, B, C int } }
	if err := d.Get(&v); err != nil || v.Mine.A != 1 || v.Mine.B != 2 || v.Mine.C != 3 {
		t.Fatalf("view %+v, %v", v, err)
	}
}
