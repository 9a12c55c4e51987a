package client_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// TestOfflineCatchUp: a client offline for 2,000 revisions, with edits of
// its own made meanwhile, catches up with deltas from the store (the
// ring holds only 1,024) under the default retention, and with a snapshot
// when the store keeps fewer operations than it missed; both times it
// keeps its pending edits and converges.
func TestOfflineCatchUp(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retention int
		snapshot  bool
	}{
		{"default-retention", 0, false},
		{"short-retention", 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := newEnvStore(t, memstore.New(memstore.Options{Retention: tc.retention}), syncd.Options{}, server.Options{})
			// Bigger than 2,000 small operations, so that deltas are
			// the smaller answer when the log has them.
			ev.commit("big", map[string]any{"pad": strings.Repeat("p", 400_000)})
			p := newProxy(t, ev.addr)
			c := dial(t, p.url, nil)
			d := join(t, c, "big")
			e := newEditor("off", d)
			var mu sync.Mutex
			kinds := map[client.ChangeKind]int{}
			d.OnChange(func(ch client.Change) {
				mu.Lock()
				kinds[ch.Kind]++
				mu.Unlock()
			})

			p.pause()
			for i := range 2000 {
				ev.commit("big", map[string]any{fmt.Sprintf("n%d", i%50): i})
			}
			for i := range 5 {
				m := fmt.Sprintf("off-e%d", i)
				e.markers = append(e.markers, m)
				if _, err := d.Merge(map[string]any{fmt.Sprintf("mine%d", i): m}); err != nil {
					t.Fatal(err)
				}
			}
			if d.Pending() != 5 {
				t.Fatalf("pending %d, want 5", d.Pending())
			}
			p.resume()
			converged(t, ev, "big", d)
			committed, refused := checkLog(t, ev, "big", []*editor{e}, false)
			if committed != 5 || refused != 0 {
				t.Fatalf("%d committed, %d refused; want 5, 0", committed, refused)
			}
			// The callbacks run on the event goroutine, after the state
			// they report is in place: the catch-up's may still be on
			// their way once the view has converged.
			caughtUp := func() bool {
				mu.Lock()
				defer mu.Unlock()
				return kinds[client.ChangeSnapshot]+kinds[client.ChangeRemote] > 0
			}
			for deadline := time.Now().Add(10 * time.Second); !caughtUp() && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			if got := kinds[client.ChangeSnapshot] > 0; got != tc.snapshot {
				t.Fatalf("changes %v: snapshot %v, want %v", kinds, got, tc.snapshot)
			}
		})
	}
}
