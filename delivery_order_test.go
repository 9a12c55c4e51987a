package syncd_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/deltasync/syncd"
)

// A batch's authors get its operations before the other subscribers: the
// echo is their acknowledgement, on which a client sends its next edit,
// and it must not wait behind a fan-out to everyone else. Past a few
// authors (a crowd) the order is the subscription order.
func TestDeliveryServesAuthorsFirst(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	ctx := ctxT(t)
	var (
		mu       sync.Mutex
		receiver = map[*syncd.Event][]string{} // each live event's subscribers, in the order of delivery
	)
	sink := func(client string) syncd.Sink {
		return func(ev *syncd.Event) {
			if ev.Kind == syncd.EventDeltas && ev.Live {
				mu.Lock()
				receiver[ev] = append(receiver[ev], client)
				mu.Unlock()
			}
		}
	}
	// The readers join first, so that a delivery in subscription order
	// would reach them before the authors.
	clients := []string{"reader-1", "reader-2", "reader-3", "a1", "a2", "a3"}
	for _, c := range clients {
		s, err := e.Subscribe(ctx, "d", syncd.SubscribeRequest{ClientID: c}, sink(c))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
	}
	var wg sync.WaitGroup
	for i, a := range []string{"a2", "a1", "a3", "a1"} {
		ed := merge(fmt.Sprintf(`{%q:%d}`, a, i))
		ed.ClientID, ed.ReqID = a, fmt.Sprintf("r-%d", i)
		wg.Add(1)
		e.CommitAsync(ctx, "d", ed, func(_ *syncd.Op, err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(receiver) == 0 {
		t.Fatal("no live event delivered")
	}
	for ev, got := range receiver {
		var authors []string
		for _, op := range ev.Ops {
			if !slices.Contains(authors, op.ClientID) {
				authors = append(authors, op.ClientID)
			}
		}
		if len(got) != len(clients) {
			t.Fatalf("revisions %d-%d: delivered to %v, want each of %v once", ev.FromRev+1, ev.ToRev, got, clients)
		}
		first := slices.Clone(got[:len(authors)])
		slices.Sort(first)
		slices.Sort(authors)
		if !slices.Equal(first, authors) {
			t.Errorf("revisions %d-%d by %v: delivered in the order %v, want the authors first", ev.FromRev+1, ev.ToRev, authors, got)
		}
	}
}
