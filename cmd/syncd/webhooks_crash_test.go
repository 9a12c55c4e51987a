package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/deltasync/syncd/internal/syncdproc"
	"github.com/deltasync/syncd/webhook"
)

// TestWebhooksSurviveKill: a real syncd (child process, bolt) is killed
// with SIGKILL while its receiver is down, a client present and changes
// perhaps not yet recorded; the next syncd on the same data delivers the
// creation, every revision, the join and the join's end (reason
// "restart"). The secret comes from SYNCD_WEBHOOK_SECRET.
func TestWebhooksSurviveKill(t *testing.T) {
	const secret = "whsec-kill-test"
	r := newReceiver(t, secret)
	o := syncdproc.Options{
		Args: []string{"-webhook", r.srv.URL, "-webhook-debounce", "200ms",
			"-webhook-retry-min", "10ms", "-webhook-retry-max", "100ms"},
		Env: []string{"SYNCD_WEBHOOK_SECRET=" + secret},
	}
	p := syncdproc.Start(t, o)
	c := dialWS(t, p.WS, ulid.Make().String(), nil)
	c.send("JOIN", map[string]any{"doc": "kill/a", "presence": map[string]any{"x": 1}})
	c.expect("SYNC.SNAPSHOT", nil)
	c.edit("kill/a", "r-a", map[string]any{"n": 0})
	// The creation, the join and the first change are recorded within
	// a recorder round (10 ms): wait for them in the outbox, so that
	// the kill finds a client reported present.
	waitOutbox(t, p.URL, 3)
	// The changes that follow fall within the debounce interval: the
	// kill comes before they are recorded, and the restart derives them
	// from the store.
	const edits = 6
	for i := 1; i < edits; i++ {
		c.edit("kill/a", "r-"+string(rune('a'+i)), map[string]any{"n": i})
	}
	p.Kill()

	o.DataDir = p.DataDir
	p2 := syncdproc.Start(t, o)
	defer p2.Stop(10 * time.Second)
	r.up.Store(true)
	deadline := time.Now().Add(timeout)
	for {
		evs := r.perDoc("kill/a")
		if checkDocEvents(t, evs, edits) && hasRestartLeave(evs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events missing after the restart:\n%+v\nsyncd log:\n%s", evs, p2.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.badSigs != 0 {
		t.Fatalf("%d deliveries with a bad signature", r.badSigs)
	}
}

// waitOutbox waits until syncd's /metrics shows at least n events in the
// webhook outbox.
func waitOutbox(t *testing.T, url string, n int) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^syncd_webhook_outbox_events (\d+)`)
	for range 500 {
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := re.FindSubmatch(body); m != nil {
			if got, _ := strconv.Atoi(string(m[1])); got >= n {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the webhook outbox never held %d events", n)
}

func hasRestartLeave(evs []webhook.Event) bool {
	joined := ""
	for _, ev := range evs {
		switch {
		case ev.Type == webhook.TypePresenceJoined:
			joined = ev.AuthorID
		case ev.Type == webhook.TypePresenceLeft && ev.Reason == "restart" && ev.AuthorID == joined && joined != "":
			return true
		}
	}
	return false
}
