package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sdk "github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/internal/syncdproc"
	"github.com/deltasync/syncd/protocol"
)

// Attacks by edits (issue: nobody takes the server down or another user's
// data): a patch that grows the document exponentially before the size
// check, and documents nested deeper than the decoders read back.

// copyPatch is a JSON Patch of n copies of the whole document into itself:
// it doubles the document n times.
func copyPatch(n int) json.RawMessage {
	ops := make([]string, n)
	for i := range ops {
		ops[i] = fmt.Sprintf(`{"op":"copy","from":"","path":"/c%d"}`, i)
	}
	return json.RawMessage("[" + strings.Join(ops, ",") + "]")
}

// wantLimitRefusal reads the ERROR refusing UPDATE reqID of doc and checks
// that it is INVALID_ARGUMENT naming limit.
func wantLimitRefusal(t *testing.T, c *client, doc, reqID, limit string) {
	t.Helper()
	p := c.expectError(protocol.CodeInvalidArgument)
	if d := updateDetails(t, p, doc, reqID); d.Limit != limit {
		t.Fatalf("refusal %q, details %s: want limit %q", p.Message, p.Details, limit)
	}
}

// TestAttackCopyDoubling: the 1,118-byte UPDATE of 26 copies used to run
// the process out of memory (and 20 copies took it to 224 MB) before the
// size check refused the result. Now the copy that would pass
// maxDocumentBytes is refused before it is made: the process stays small
// and up, serves others, and keeps the document's acknowledged edits.
func TestAttackCopyDoubling(t *testing.T) {
	p := startSyncd(t) // the default settings: no auth, bolt
	const doc = "victim"
	c := dialProc(t, p, dialOpts{clientID: newClientID()})
	c.join(doc)
	c.edit(doc, map[string]any{"kept": "first"})
	c.edit(doc, []any{map[string]any{"op": "add", "path": "/list", "value": []any{1, 2, 3}}})

	if len(copyPatch(26)) > 1118 {
		t.Fatalf("the patch is %d bytes, the issue's 1,118", len(copyPatch(26)))
	}
	for _, n := range []int{26, 20} {
		id := c.nextReq()
		c.update(doc, copyPatch(n), id)
		wantLimitRefusal(t, c, doc, id, protocol.LimitMaxDocumentBytes)
		// Peak use is a document of 1 MiB encoded (tens of MiB of maps)
		// plus the runtime; 2^20 copies were 224 MB, 2^26 out of memory.
		p.RequireRSSBelow(150 << 20)
		t.Logf("after %d copies refused: RSS %d MiB", n, p.RSS()>>20)
		requireServes(t, p, dialOpts{})
	}

	other := dialProc(t, p, dialOpts{})
	snap := other.join(doc)
	if snap.Rev != 2 || string(snap.State) != `{"kept":"first","list":[1,2,3]}` {
		t.Fatalf("after the attack the document is rev %d %s", snap.Rev, snap.State)
	}
}

// TestAttackCopyRemoveLoop: a patch of a thousand copies and removals of
// half the document never makes it too large, but copied half a megabyte
// a thousand times while holding the document. The work budget
// (maxPatchWorkBytes) stops it at the operation that passes 2 MiB: the
// refusal comes quickly and the server goes on serving.
func TestAttackCopyRemoveLoop(t *testing.T) {
	p := startSyncd(t)
	const doc = "busy"
	c := dialProc(t, p, dialOpts{clientID: newClientID()})
	c.join(doc)
	items := make([]string, 40000)
	for i := range items {
		items[i] = fmt.Sprintf(`{"k":%d}`, i%10)
	}
	c.edit(doc, map[string]any{"a": json.RawMessage("[" + strings.Join(items, ",") + "]")}) // about 360 KB of small objects
	ops := make([]string, 0, 1000)
	for range 500 {
		ops = append(ops, `{"op":"copy","from":"/a","path":"/b"}`, `{"op":"remove","path":"/b"}`)
	}
	start := time.Now()
	id := c.nextReq()
	c.update(doc, json.RawMessage("["+strings.Join(ops, ",")+"]"), id)
	wantLimitRefusal(t, c, doc, id, protocol.LimitMaxPatchWorkBytes)
	// 2 MiB of walking and copying is milliseconds; the whole patch was
	// tens of seconds. The bound allows for a loaded machine.
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the refusal took %v", d)
	}
	requireServes(t, p, dialOpts{})
	// The values the patch removed stay in its undo log until it is
	// refused: at most 2 MiB encoded, tens of MiB as Go maps.
	p.RequireRSSBelow(150 << 20)
	t.Logf("refused after %v; RSS %d MiB", time.Since(start), p.RSS()>>20)
}

// deepValue is n levels of {"x":…} around 1.
func deepValue(n int) json.RawMessage {
	return json.RawMessage(strings.Repeat(`{"x":`, n) + "1" + strings.Repeat("}", n))
}

// deepPath is the pointer /x/x/… of n tokens.
func deepPath(n int) string { return strings.Repeat("/x", n) }

// TestAttackDeepNesting: UPDATEs adding 499 levels each used to build a
// document 12,000 levels deep that, once snapshotted, no JOIN could read
// after a restart (and the HTTP read failed already). Now an edit stops at
// maxDocumentDepth (256): the deepest document an edit can make is
// snapshotted, reloaded after a restart, joined, read over HTTP and
// decoded by the Go SDK.
func TestAttackDeepNesting(t *testing.T) {
	const key, doc = "attack-key", "deep"
	args := []string{"-snapshot-interval", "2", "-api-key", key}
	p := startSyncd(t, args...)
	c := dialProc(t, p, dialOpts{clientID: newClientID()})
	c.join(doc)

	// The step: refused at once.
	id := c.nextReq()
	c.update(doc, []any{map[string]any{"op": "add", "path": "/x", "value": deepValue(499)}}, id)
	wantLimitRefusal(t, c, doc, id, protocol.LimitMaxDocumentDepth)

	// Up to the limit in steps, as an attacker would: accepted while the
	// document stays within 256 levels, refused past them.
	// After each step the document is deepValue(depth); the next step
	// replaces its innermost 1, at deepPath(depth).
	for depth := 0; depth < 256; {
		add := min(50, 256-depth)
		c.edit(doc, []any{map[string]any{"op": "add", "path": deepPath(depth), "value": deepValue(add)}})
		depth += add
	}
	for _, extra := range []int{1, 499} {
		id := c.nextReq()
		c.update(doc, []any{map[string]any{"op": "replace", "path": deepPath(256), "value": deepValue(extra)}}, id)
		wantLimitRefusal(t, c, doc, id, protocol.LimitMaxDocumentDepth)
	}
	// One more accepted edit, so that the last snapshot is of the
	// deepest state (-snapshot-interval 2).
	final := c.edit(doc, map[string]any{"y": 1})
	want := readHTTP(t, p, key, doc)
	if got := delta.Depth(want); got != 256 {
		t.Fatalf("the document nests %d deep, want 256", got)
	}
	requireServes(t, p, dialOpts{})

	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	p = syncdproc.Start(t, syncdproc.Options{Args: args, DataDir: p.DataDir})
	other := dialProc(t, p, dialOpts{})
	snap := other.join(doc)
	if snap.Rev != final.Rev {
		t.Fatalf("after the restart JOIN answered rev %d, want %d", snap.Rev, final.Rev)
	}
	if got := mustDecodeState(t, snap.State); !delta.Equal(got, want) {
		t.Fatal("after the restart JOIN answered another state")
	}
	if got := readHTTP(t, p, key, doc); !delta.Equal(got, want) {
		t.Fatal("after the restart the HTTP read answered another state")
	}
	// The Go SDK reads it too.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gc, err := sdk.Dial(ctx, sdk.Options{URL: p.WS})
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	d, err := gc.Join(ctx, doc)
	if err != nil {
		t.Fatalf("SDK join: %v", err)
	}
	if d.Rev() != final.Rev || delta.Depth(d.View()) != 256 {
		t.Fatalf("the SDK sees rev %d, %d deep", d.Rev(), delta.Depth(d.View()))
	}
	requireServes(t, p, dialOpts{})
}

// readHTTP reads doc's state with GET /v1/docs/{id}, requiring a 200 and
// a body that decodes.
func readHTTP(t *testing.T, p *syncdproc.Proc, key, doc string) any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/v1/docs/"+doc, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	hc := http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/docs/%s: HTTP %d, %v: %.200s", doc, resp.StatusCode, err, body)
	}
	var got struct {
		State json.RawMessage `json:"state"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("GET /v1/docs/%s: %v", doc, err)
	}
	return mustDecodeState(t, got.State)
}

func mustDecodeState(t *testing.T, b []byte) any {
	t.Helper()
	v, err := delta.Decode(b)
	if err != nil {
		t.Fatalf("state %.100s…: %v", b, err)
	}
	return v
}
