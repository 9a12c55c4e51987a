package client

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/protocol"
)

// resentDoc is a joined document with pending edits: a, resent after a
// lost connection (§6.8 step 2), and b, sent once on this connection. Its
// rejections are collected.
type resentDoc struct {
	c       *Client
	d       *Doc
	a, b    *edit
	mu      sync.Mutex
	rejects []Rejection
}

// unconnectedClient is a client with no session (what it sends goes
// nowhere) whose timers and callbacks run, stopped when t ends.
func unconnectedClient(t *testing.T) *Client {
	ctx, cancel := context.WithCancel(context.Background())
	opts := Options{URL: "ws://x/ws"}
	c := &Client{opts: opts.withDefaults(), entropy: newEntropy(), ev: newDispatcher(), ctx: ctx, cancel: cancel, log: slog.New(slog.DiscardHandler)}
	t.Cleanup(func() {
		cancel()
		c.wg.Wait()
		c.ev.close()
	})
	return c
}

func newResentDoc(t *testing.T) *resentDoc {
	t.Helper()
	c := unconnectedClient(t)
	r := &resentDoc{c: c}
	r.d = &Doc{c: c, id: "d", epoch: "01JD3KZ9X4B7N2Q5T8W1Y3C6F0", changed: make(chan struct{}), live: true, rev: 4, hasPos: true}
	r.d.onReject = []func(Rejection){func(rej Rejection) {
		r.mu.Lock()
		r.rejects = append(r.rejects, rej)
		r.mu.Unlock()
	}}
	mk := func(id string) *edit {
		p, err := delta.ParseMergePatch([]byte(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		return &edit{id: id, raw: json.RawMessage(`{"a":1}`), patch: p, merge: true, sent: true, baseRev: 3, epoch: r.d.epoch}
	}
	r.a, r.b = mk("r-5"), mk("r-6")
	r.a.resent = true
	r.d.pending = []*edit{r.a, r.b}
	return r
}

func (r *resentDoc) refuse(id string, code protocol.Code) {
	retry := int64(0)
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	r.d.refusedLocked(id, &protocol.ErrorPayload{Code: code, Message: "test", RetryAfterMs: &retry, Details: json.RawMessage(`{"doc":"d","clientReqId":"` + id + `","serverRev":4}`)})
}

func (r *resentDoc) rejected() []Rejection {
	r.ev()
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Rejection(nil), r.rejects...)
}

// ev waits until the callbacks queued so far have run.
func (r *resentDoc) ev() {
	done := make(chan struct{})
	r.c.ev.push(func() { close(done) })
	<-done
}

// TestResentEditNotReissuedAfterUnavailable: an edit resent after a lost
// connection and refused UNAVAILABLE may still be decided by the server
// the client left, so it is sent again under the same id, with its old
// baseRev and epoch, keeping its place ahead of later edits; a re-issue
// under a new id could apply it twice (PROTOCOL.md §6.7). After
// maxUndecidedRetries such refusals its outcome is reported unknown. An
// edit sent once on this connection is still re-issued under a new id.
func TestResentEditNotReissuedAfterUnavailable(t *testing.T) {
	r := newResentDoc(t)
	r.refuse("r-5", protocol.CodeUnavailable)
	r.c.mu.Lock()
	if len(r.d.pending) != 2 || r.d.pending[0] != r.a || r.a.id != "r-5" || r.a.sent || !r.a.keepBase || r.a.baseRev != 3 || !r.a.notBefore.After(time.Now()) {
		r.c.mu.Unlock()
		t.Fatalf("after UNAVAILABLE the resent edit is %+v (pending %d): want r-5 first, unsent, keeping its base, held back", r.a, len(r.d.pending))
	}
	r.c.mu.Unlock()
	if rej := r.rejected(); len(rej) != 0 {
		t.Fatalf("rejected %+v", rej)
	}

	// The one sent once on this connection: re-issued as before.
	r.refuse("r-6", protocol.CodeUnavailable)
	r.c.mu.Lock()
	if r.b.id == "r-6" || r.b.resent {
		t.Errorf("an edit sent once was not re-issued under a new id: %+v", r.b)
	}
	if r.b.sent {
		t.Error("the re-issued edit went out ahead of the held resend")
	}
	r.c.mu.Unlock()

	for i := 1; i < maxUndecidedRetries; i++ {
		r.c.mu.Lock()
		r.a.sent = true // as if flushLocked had sent it again
		r.c.mu.Unlock()
		r.refuse("r-5", protocol.CodeDeadlineExceeded)
	}
	r.c.mu.Lock()
	r.a.sent = true
	if r.a.id != "r-5" || r.a.resends != maxUndecidedRetries {
		t.Errorf("after %d refusals: %+v", maxUndecidedRetries, r.a)
	}
	r.c.mu.Unlock()
	r.refuse("r-5", protocol.CodeUnavailable)
	rej := r.rejected()
	if len(rej) != 1 || rej[0].ReqID != "r-5" || rej[0].Code != CodeOutcomeUnknown {
		t.Fatalf("after giving up, rejections %+v: want r-5 with %s", rej, CodeOutcomeUnknown)
	}
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	for _, e := range r.d.pending {
		if e == r.a {
			t.Fatal("the edit given up is still pending")
		}
	}
}

// TestResentEditReissuedAfterAlreadyExists: ALREADY_EXISTS for a resent
// edit whose operation the client has not seen says that no copy of it
// was applied or can be any more (the server sends it only after the
// earlier decision's operation, §6.7), so it is re-issued under a new id
// rather than dropped; for an edit sent once it is still a refusal.
func TestResentEditReissuedAfterAlreadyExists(t *testing.T) {
	r := newResentDoc(t)
	r.refuse("r-5", protocol.CodeAlreadyExists)
	r.c.mu.Lock()
	if r.a.id == "r-5" || r.a.resent || r.a.keepBase || r.a.retries != 1 {
		r.c.mu.Unlock()
		t.Fatalf("after ALREADY_EXISTS the resent edit is %+v: want it re-issued under a new id", r.a)
	}
	r.c.mu.Unlock()
	r.refuse("r-6", protocol.CodeAlreadyExists)
	rej := r.rejected()
	if len(rej) != 1 || rej[0].ReqID != "r-6" || rej[0].Code != protocol.CodeAlreadyExists {
		t.Fatalf("rejections %+v: want r-6 refused ALREADY_EXISTS", rej)
	}
}

// TestUnavailableRetriedWithBackoff: an edit refused UNAVAILABLE (the
// server could not decide it: a store election, say) is re-issued at
// least maxUndecidedRetries times, each wait twice the one before (from
// 100 ms, at most 5 s), before it is rolled back and reported; a conflict
// (ABORTED) gets MaxRetries attempts. MaxRetries < 0 still means never.
func TestUnavailableRetriedWithBackoff(t *testing.T) {
	r := newResentDoc(t)
	var waits []time.Duration
	for i := 0; i < maxUndecidedRetries; i++ {
		before := time.Now()
		r.refuse(r.b.id, protocol.CodeUnavailable)
		r.c.mu.Lock()
		waits = append(waits, r.b.notBefore.Sub(before))
		r.b.sent = true // as if flushLocked had sent it
		r.c.mu.Unlock()
	}
	if rej := r.rejected(); len(rej) != 0 {
		t.Fatalf("rejected after %d refusals: %+v", maxUndecidedRetries, rej)
	}
	for i, w := range waits {
		want := min(undecidedBackoff<<i, 5*time.Second)
		if w < want || w > want+time.Second {
			t.Errorf("wait %d: %v, want about %v", i, w, want)
		}
	}
	r.refuse(r.b.id, protocol.CodeUnavailable)
	if rej := r.rejected(); len(rej) != 1 || rej[0].Code != protocol.CodeUnavailable {
		t.Fatalf("after %d retries, rejections %+v: want UNAVAILABLE reported", maxUndecidedRetries, rej)
	}

	conflicts := newResentDoc(t)
	for i := 0; i <= conflicts.c.opts.MaxRetries; i++ {
		conflicts.refuse(conflicts.b.id, protocol.CodeAborted)
		conflicts.c.mu.Lock()
		conflicts.b.sent = true
		conflicts.c.mu.Unlock()
	}
	if rej := conflicts.rejected(); len(rej) != 1 || rej[0].Code != protocol.CodeAborted {
		t.Fatalf("after MaxRetries conflicts, rejections %+v: want ABORTED reported", rej)
	}

	never := newResentDoc(t)
	never.c.opts.MaxRetries = -1
	never.refuse(never.b.id, protocol.CodeUnavailable)
	if rej := never.rejected(); len(rej) != 1 {
		t.Fatalf("MaxRetries -1: rejections %+v, want one at once", rej)
	}
}
