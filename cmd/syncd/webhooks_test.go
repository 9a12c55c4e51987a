package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/deltasync/syncd/webhook"
)

// receiver is a webhook endpoint on 127.0.0.1 that can be down (503) and
// checks every delivery's signature.
type receiver struct {
	t      *testing.T
	secret []byte
	up     atomic.Bool
	srv    *httptest.Server

	mu      sync.Mutex
	events  []webhook.Event   // accepted, in arrival order
	bodies  map[string][]byte // by id
	badSigs int
	refused int
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{t: t, secret: []byte(secret), bodies: map[string][]byte{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.up.Load() {
			r.refused++
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if err := webhook.Verify(r.secret, req.Header.Get(webhook.HeaderSignature), body, 5*time.Minute, time.Now()); err != nil {
			r.badSigs++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(webhook.HeaderEventID) || ev.Type != req.Header.Get(webhook.HeaderEventType) {
			r.t.Errorf("delivery %s: headers %v do not match the body %s", ev.ID, req.Header, body)
		}
		if prev, ok := r.bodies[ev.ID]; ok && !bytes.Equal(prev, body) {
			r.t.Errorf("event %s delivered twice with different bodies:\n%s\n%s", ev.ID, prev, body)
		}
		r.bodies[ev.ID] = body
		r.events = append(r.events, ev)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// perDoc returns the accepted events of doc, duplicates (same id) removed,
// in arrival order.
func (r *receiver) perDoc(doc string) []webhook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []webhook.Event
	for _, ev := range r.events {
		if ev.Doc == doc && !seen[ev.ID] {
			seen[ev.ID] = true
			out = append(out, ev)
		}
	}
	return out
}

// checkDocEvents checks that doc's document events are a creation then
// changes covering 1 … head contiguously, in order, and reports whether
// they reach head.
func checkDocEvents(t *testing.T, evs []webhook.Event, head uint64) (complete bool) {
	t.Helper()
	var rev uint64
	created := false
	for _, ev := range evs {
		switch ev.Type {
		case webhook.TypeDocumentCreated:
			if created {
				t.Fatalf("created twice: %+v", evs)
			}
			created = true
		case webhook.TypeDocumentChanged:
			if !created || ev.Change == nil || uint64(ev.Change.FromRev) != rev || ev.Change.ToRev <= ev.Change.FromRev {
				t.Fatalf("changes out of order or not contiguous at rev %d: %+v", rev, evs)
			}
			rev = uint64(ev.Change.ToRev)
		}
	}
	return created && rev == head
}

// TestWebhooksSurviveDownReceiverAndRestart: the receiver is down while
// syncd commits, restarts, and commits again; once it comes up every
// event arrives, in order per document, signed, and duplicates only
// repeat an id with the same body.
func TestWebhooksSurviveDownReceiverAndRestart(t *testing.T) {
	const secret = "whsec-test-secret"
	r := newReceiver(t, secret)
	dir := t.TempDir()
	args := []string{"-webhook", r.srv.URL, "-webhook-secret", secret, "-webhook-debounce", "50ms",
		"-webhook-retry-min", "10ms", "-webhook-retry-max", "100ms"}

	m := boot(t, dir, args...)
	id := ulid.Make().String()
	c := dialWS(t, wsURL(m), id, nil)
	c.send("JOIN", map[string]any{"doc": "wh/a", "presence": map[string]any{"name": "ann"}})
	c.expect("SYNC.SNAPSHOT", nil)
	c.send("JOIN", map[string]any{"doc": "wh/b"})
	c.expect("SYNC.SNAPSHOT", nil)
	for i, doc := range []string{"wh/a", "wh/b", "wh/a", "wh/b", "wh/a"} {
		c.edit(doc, "r-"+string(rune('a'+i)), map[string]any{"n": i})
	}
	// The receiver is tried (and refuses) before the restart.
	for i := 0; ; i++ {
		r.mu.Lock()
		refused := r.refused
		r.mu.Unlock()
		if refused > 0 {
			break
		}
		if i == 500 {
			t.Fatal("the receiver was never tried while down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m2 := boot(t, dir, args...)
	c2 := dialWS(t, wsURL(m2), id, nil)
	c2.send("JOIN", map[string]any{"doc": "wh/a"})
	c2.expect("SYNC.SNAPSHOT", nil)
	c2.edit("wh/a", "r-x", map[string]any{"n": 10})
	c2.edit("wh/a", "r-y", map[string]any{"n": 11})

	r.up.Store(true)
	deadline := time.Now().Add(timeout)
	for {
		a, b := r.perDoc("wh/a"), r.perDoc("wh/b")
		if checkDocEvents(t, a, 5) && checkDocEvents(t, b, 2) && hasPresence(a) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events missing after the receiver came up:\nwh/a %+v\nwh/b %+v", a, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.badSigs != 0 {
		t.Fatalf("%d deliveries with a bad signature", r.badSigs)
	}
}

// hasPresence reports whether evs hold the first run's client joining and
// then leaving, named by author id.
func hasPresence(evs []webhook.Event) bool {
	joined := false
	for _, ev := range evs {
		switch ev.Type {
		case webhook.TypePresenceJoined:
			joined = ev.AuthorID != ""
		case webhook.TypePresenceLeft:
			if joined {
				return true
			}
		}
	}
	return false
}

// TestWebhookHangingEndpointDoesNotSlowCommits: an endpoint that never
// answers holds its sender, not the commits.
func TestWebhookHangingEndpointDoesNotSlowCommits(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	dir := t.TempDir()
	m := boot(t, dir, "-webhook", hang.URL, "-webhook-secret", "s", "-webhook-timeout", "1m", "-webhook-debounce", "1ms")
	c := dialWS(t, wsURL(m), ulid.Make().String(), nil)
	c.send("JOIN", map[string]any{"doc": "hang/a", "presence": map[string]any{"x": 1}})
	c.expect("SYNC.SNAPSHOT", nil)
	start := time.Now()
	const edits = 50
	for i := range edits {
		c.edit("hang/a", fmt.Sprintf("r-%03d", i), map[string]any{"n": i})
	}
	// Bolt's fsync is most of an edit's time; 50 of them take well under
	// a second on a quiet machine, and this bound leaves room for a busy
	// one while catching commits that wait for the endpoint (a minute).
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("%d edits took %v with a hanging endpoint", edits, took)
	}
	waitOutbox(t, "http://"+m.Addr(), 3)
}
