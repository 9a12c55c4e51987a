package server_test

import (
	"testing"
	"time"

	"github.com/deltasync/syncd/protocol"
)

// TestSilentClientsLeaveWithinBound runs against a real syncd what the
// issue reported (a silent client closed 5.25 s after its last message with
// -heartbeat 1s -heartbeat-timeout 3s, a whole interval late): clients that
// stop sending and answering pings are closed, and leave the room's
// presence, between the timeout and the timeout plus one interval after
// their last message (PROTOCOL.md §6.10). The timeout, 2.5 s, is not a
// multiple of the interval, and the five clients fall silent a fifth of an
// interval apart, so a silence measured from the tick that last found a
// client alive (as the server once did) shows as a late close for at least
// one of them. It takes about 4 s: the timeout and an interval.
func TestSilentClientsLeaveWithinBound(t *testing.T) {
	const (
		interval = time.Second
		timeout  = 2500 * time.Millisecond
		clients  = 5
		slack    = 300 * time.Millisecond // scheduling, and the PRESENCE's way to the watcher
	)
	p := startSyncd(t, "-heartbeat", interval.String(), "-heartbeat-timeout", timeout.String())
	const doc = "hb/room"
	watcher := dialProc(t, p, dialOpts{})
	watcher.join(doc)
	// lastSent[id] brackets each silent client's last message, its JOIN.
	type span struct{ before, after time.Time }
	lastSent := map[string]span{}
	for i := range clients {
		if i > 0 {
			time.Sleep(interval / clients)
		}
		c := dialProc(t, p, dialOpts{})
		c.ws.SetPingHandler(func(string) error { return nil }) // never answers pings
		before := time.Now()
		c.joinWith(map[string]any{"doc": doc, "presence": map[string]any{"n": i}}, "")
		lastSent[c.author] = span{before, time.Now()} // presence names author ids
	}
	for deadline := time.Now().Add(timeout + interval + 5*time.Second); len(lastSent) > 0; {
		m, err := watcher.tryRead(time.Until(deadline))
		if err != nil {
			t.Fatalf("watcher, %d silent clients still in the room: %v", len(lastSent), err)
		}
		if m.Type != protocol.TypePresence {
			continue
		}
		now := time.Now()
		for _, id := range decodeAs[protocol.Presence](t, m).Left {
			s, ok := lastSent[id]
			if !ok {
				continue
			}
			delete(lastSent, id)
			if silence := now.Sub(s.after); silence < timeout-50*time.Millisecond {
				t.Errorf("client %s left after %v of silence, before the timeout %v", id, silence, timeout)
			}
			if silence := now.Sub(s.before); silence > timeout+interval+slack {
				t.Errorf("client %s left after %v of silence, want at most %v", id, silence, timeout+interval)
			}
		}
	}
	requireServes(t, p, dialOpts{})
}
