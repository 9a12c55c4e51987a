package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/memstore"
)

// collector is a receiver that keeps every event it accepts.
type collector struct {
	mu     sync.Mutex
	events []Event
}

func newCollector(t *testing.T) (*collector, *httptest.Server) {
	c := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if Verify([]byte("k"), r.Header.Get(HeaderSignature), body, time.Minute, time.Now()) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev Event
		json.Unmarshal(body, &ev)
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, seen := range c.events {
			if seen.ID == ev.ID {
				return // at least once: a duplicate repeats its id
			}
		}
		c.events = append(c.events, ev)
	}))
	t.Cleanup(srv.Close)
	return c, srv
}

func (c *collector) waitFor(t *testing.T, n int) []Event {
	t.Helper()
	for range 500 {
		c.mu.Lock()
		evs := append([]Event(nil), c.events...)
		c.mu.Unlock()
		if len(evs) >= n {
			return evs
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("fewer than %d events arrived", n)
	return nil
}

func startNotifier(t *testing.T, st syncd.Store, url string) *Notifier {
	t.Helper()
	n, err := New(st, Options{Endpoints: []Endpoint{{URL: url, Secret: "k"}}, Debounce: 20 * time.Millisecond, RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCrashRecovery: a notifier stops without recording (as a crash
// would lose its memory) while a client is present and after commits it
// never saw; the next one reports the client as left and the changes
// from the cursor, derived from the store.
func TestCrashRecovery(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(memstore.Options{})
	defer st.Close()
	c, srv := newCollector(t)

	n1 := startNotifier(t, st, srv.URL)
	epoch := revision.Epoch("01J00000000000000000000001")
	if err := st.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "d", Epoch: epoch, Time: 1}}}); err != nil {
		t.Fatal(err)
	}
	n1.Committed(syncd.CommitNotice{Doc: "d", Kind: syncd.NoticeCreated, Epoch: epoch})
	n1.PresenceChanged("d", "client-1", "", true)
	c.waitFor(t, 2)
	// A crash: the commits below are durable but never observed.
	n1.Close()
	for rev := revision.Rev(1); rev <= 3; rev++ {
		op := &syncd.Op{Rev: rev, Kind: syncd.OpMerge, Payload: json.RawMessage(`{"a":1}`)}
		if err := st.Commit(ctx, []syncd.Record{{Append: &syncd.AppendRecord{Doc: "d", Epoch: epoch, Op: op}}}); err != nil {
			t.Fatal(err)
		}
	}

	n2 := startNotifier(t, st, srv.URL)
	defer n2.Close()
	evs := c.waitFor(t, 4)
	types := []string{}
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	if types[0] != TypeDocumentCreated || types[1] != TypePresenceJoined {
		t.Fatalf("first run's events: %v", types)
	}
	var left, changed *Event
	for i := range evs[2:] {
		ev := &evs[2+i]
		switch ev.Type {
		case TypePresenceLeft:
			left = ev
		case TypeDocumentChanged:
			changed = ev
		}
	}
	if left == nil || left.Reason != "restart" || left.AuthorID != evs[1].AuthorID || left.AuthorID == "" {
		t.Fatalf("no restart leave for the joined client: %+v", evs)
	}
	if changed == nil || changed.Change.FromRev != 0 || changed.Change.ToRev != 3 || changed.Epoch != epoch {
		t.Fatalf("no change 0→3 derived from the cursor: %+v", evs)
	}
}

// TestOutboxBound: past MaxOutbox presence events are dropped and counted;
// a dead endpoint never makes the observer block.
func TestOutboxBound(t *testing.T) {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer dead.Close()
	n, err := New(st, Options{Endpoints: []Endpoint{{URL: dead.URL, Secret: "k"}}, MaxOutbox: 10, RetryMin: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	start := time.Now()
	for i := range 100 {
		n.PresenceChanged("d", fmt.Sprint("c", i), "", true)
	}
	for i := range 100 {
		n.PresenceChanged("d", fmt.Sprint("c", i), "", false) // a dropped join's leave is dropped too
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("100 observations took %v", took)
	}
	n.mu.Lock()
	held := len(n.outbox) + len(n.presence)
	n.mu.Unlock()
	if held > 20 {
		t.Fatalf("%d events held, bound 10 joins and their leaves", held)
	}
	if got := testutilCounter(n.m.dropped); got < 90 {
		t.Fatalf("dropped %v, want at least 90", got)
	}
}

// TestDebounceAndFilters: a burst of operations makes few
// document.changed events with contiguous ranges, and each endpoint gets
// only the types it subscribes to, in order.
func TestDebounceAndFilters(t *testing.T) {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	all, srvAll := newCollector(t)
	changes, srvChanges := newCollector(t)
	n, err := New(st, Options{
		Endpoints: []Endpoint{{URL: srvAll.URL, Secret: "k"}, {URL: srvChanges.URL, Secret: "k", Events: []string{TypeDocumentChanged}}},
		Debounce:  50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	epoch := revision.Epoch("01J00000000000000000000002")
	n.Committed(syncd.CommitNotice{Doc: "d", Kind: syncd.NoticeCreated, Epoch: epoch})
	const ops = 200
	for rev := revision.Rev(1); rev <= ops; rev++ {
		n.Committed(syncd.CommitNotice{Doc: "d", Kind: syncd.NoticeOp, Epoch: epoch, Head: rev})
		if rev%20 == 0 {
			time.Sleep(5 * time.Millisecond) // a burst of about 50 ms
		}
	}
	n.PresenceChanged("d", "c", "", true)
	var got []Event
	for range 500 {
		got = changes.waitFor(t, 1)
		if last := got[len(got)-1]; last.Change != nil && last.Change.ToRev == ops {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var rev revision.Rev
	for _, ev := range got {
		if ev.Type != TypeDocumentChanged || ev.Change.FromRev != rev {
			t.Fatalf("changes-only endpoint got %+v", got)
		}
		rev = ev.Change.ToRev
	}
	if rev != ops || len(got) > 10 {
		t.Fatalf("%d changed events reaching rev %d for %d operations in a burst", len(got), rev, ops)
	}
	evs := all.waitFor(t, len(got)+2)
	if evs[0].Type != TypeDocumentCreated || evs[len(evs)-1].Type != TypePresenceJoined && evs[len(evs)-1].Type != TypeDocumentChanged {
		t.Fatalf("all-types endpoint got %+v", evs)
	}
}

// TestPresencePerUser: a user's clients count as one presence (its first
// join and last leave are reported, by user id); a client without a user
// is reported by author id, never by client id.
func TestPresencePerUser(t *testing.T) {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	c, srv := newCollector(t)
	n := startNotifier(t, st, srv.URL)
	defer n.Close()
	n.PresenceChanged("d", "tab-1", "ann", true)
	n.PresenceChanged("d", "tab-2", "ann", true)
	n.PresenceChanged("e", "tab-2", "ann", true) // another document
	n.PresenceChanged("d", "secret-client-id", "", true)
	n.PresenceChanged("d", "tab-1", "ann", false)
	n.PresenceChanged("d", "tab-2", "ann", false)
	evs := c.waitFor(t, 4)
	time.Sleep(50 * time.Millisecond) // nothing more comes
	evs = c.waitFor(t, 4)
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Type+" "+ev.Doc+" "+ev.UserID+ev.AuthorID)
	}
	want := []string{"presence.joined d ann", "presence.joined e ann", "presence.joined d " + protocol.AuthorID("secret-client-id"), "presence.left d ann"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
