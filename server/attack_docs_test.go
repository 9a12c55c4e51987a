package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
)

// The attack of issue item 4: JOIN and LEAVE of ever new document ids. Each
// JOIN created, stored and loaded a document with its whole operation ring
// (~45 KB), which stayed loaded until the idle janitor a minute later;
// 20,000 of them grew a server by 275 MiB, and ~48k ended in out-of-memory.
// Now the ring grows with the operations, the loaded documents are capped
// (-max-loaded-docs, default 10,000, idle ones unloaded first) and creation
// is rate-limited. This test raises the creation and message rates so that
// 20,000 creations fit in seconds, keeps the default cap, and checks that
// the server's RSS grows by less than attackDocsRSSGrowth over its idle
// baseline, that it still serves, and that a document edited before the
// attack, unloaded to make room, comes back intact.
//
// It takes 10–15 s on a shared 2-core machine, over the usual 10: each of
// the 20,000 JOINs waits for its document's create to be durable in bbolt
// (group-committed across the 16 connections), and fewer documents would not
// pass the default budget of 10,000 loaded ones, whose unloading is what is
// under test. The bound is +60 MiB; with the fix the growth is ~40 MiB, most
// of it the 10,000 documents the budget keeps loaded (before it, 20,000
// documents took ~275 MiB).

const (
	attackDocs          = 20000
	attackDocsConns     = 16
	attackDocsRSSGrowth = 60 << 20
)

func TestAttackJoinLeaveNewDocs(t *testing.T) {
	p := startSyncd(t,
		"-docs-per-minute", "10000000", // the attack's pace, not the limit's, is under test
		"-rate", "100000",
	)
	keeper := dialProc(t, p, dialOpts{})
	keeper.join("precious")
	kept := keeper.edit("precious", map[string]any{"kept": true})
	keeper.send(protocol.TypeLeave, map[string]any{"doc": "precious"})
	requireServes(t, p, dialOpts{})
	baseline := p.RSS()

	conns := make([]*websocket.Conn, attackDocsConns)
	for i := range conns {
		conns[i] = dialProc(t, p, dialOpts{}).ws
	}
	start := time.Now()
	// A bound against a hang, not the expected time (5–15 s).
	deadline := start.Add(40 * time.Second)
	errs := make(chan error, len(conns))
	var wg sync.WaitGroup
	for i, ws := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- joinLeaveNew(ws, i, attackDocs/attackDocsConns, deadline)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
		}
	}
	t.Logf("%d documents created in %v; RSS %d MiB, baseline %d MiB",
		attackDocs, time.Since(start).Round(time.Millisecond), p.RSS()>>20, baseline>>20)

	p.RequireRSSBelow(baseline + attackDocsRSSGrowth)
	requireServes(t, p, dialOpts{})
	if n := loadedDocs(t, p.URL); n > 10000 {
		t.Errorf("%d documents loaded, over the default budget of 10,000", n)
	}
	// The edit acknowledged before the attack survived the unloading.
	c := dialProc(t, p, dialOpts{})
	snap := c.join("precious")
	if snap.Rev != kept.Rev || !strings.Contains(string(snap.State), `"kept":true`) {
		t.Errorf("precious after the attack: revision %d %s, want revision %d with kept", snap.Rev, snap.State, kept.Rev)
	}
}

// joinLeaveNew joins and leaves n new documents on ws, one at a time: a
// JOIN, its LEAVE, then the JOIN's answer. It gives up at deadline.
func joinLeaveNew(ws *websocket.Conn, conn, n int, deadline time.Time) error {
	ws.SetReadDeadline(deadline)
	ws.SetWriteDeadline(deadline)
	for i := range n {
		doc := fmt.Sprintf("attack/%d/%d", conn, i)
		for _, typ := range []string{protocol.TypeJoin, protocol.TypeLeave} {
			m := fmt.Sprintf(`{"type":%q,"meta":{},"payload":{"doc":%q}}`, typ, doc)
			if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
				return fmt.Errorf("connection %d, document %d: %w", conn, i, err)
			}
		}
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return fmt.Errorf("connection %d, document %d: %w", conn, i, err)
			}
			var m struct{ Type string }
			if err := json.Unmarshal(data, &m); err != nil {
				return err
			}
			if m.Type == protocol.TypeSyncSnapshot {
				break
			}
			if m.Type != protocol.TypePresence {
				return fmt.Errorf("connection %d, document %d: %s", conn, i, data)
			}
		}
	}
	return nil
}

// loadedDocs reads syncd_documents_loaded from /metrics.
func loadedDocs(t *testing.T, base string) int {
	t.Helper()
	hc := http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syncd_documents_loaded "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatalf("no syncd_documents_loaded in /metrics")
	return 0
}

// TestAttackDocCreationRateLimited: with the default limits, a connection
// that creates documents as fast as it can gets the 61st refused with
// RESOURCE_EXHAUSTED and a retryAfterMs of at most a second (one creation
// a second, a minute's worth at once), and nothing else is affected.
func TestAttackDocCreationRateLimited(t *testing.T) {
	p := startSyncd(t)
	c := dialProc(t, p, dialOpts{})
	if got := c.hello.Limits[protocol.LimitDocsCreatedPerMinute]; got != 60 {
		t.Fatalf("HELLO.limits.%s = %d, want the default 60", protocol.LimitDocsCreatedPerMinute, got)
	}
	for i := range 60 {
		doc := fmt.Sprintf("burst/%d", i)
		c.join(doc)
		c.send(protocol.TypeLeave, map[string]any{"doc": doc})
	}
	c.send(protocol.TypeJoin, map[string]any{"doc": "burst/60"})
	e := c.expectError(protocol.CodeResourceExhausted)
	if e.RetryAfterMs == nil || *e.RetryAfterMs <= 0 || *e.RetryAfterMs > 1000 {
		t.Errorf("retryAfterMs %v, want within (0, 1000]", e.RetryAfterMs)
	}
	if !strings.Contains(string(e.Details), `"burst/60"`) {
		t.Errorf("details %s do not name the document", e.Details)
	}
	c.join("burst/0") // exists: joining it is not a creation
	requireServes(t, p, dialOpts{})
}
