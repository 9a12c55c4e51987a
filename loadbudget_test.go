package syncd_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd"
)

// manualClock is an Options.Now that moves only when told.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// loadedOf returns which of docs are in memory.
func loadedOf(e *syncd.Engine, docs ...string) []string {
	var in []string
	for _, doc := range docs {
		if _, ok := e.Head(doc); ok {
			in = append(in, doc)
		}
	}
	return in
}

func join(t *testing.T, e *syncd.Engine, doc string) *syncd.Subscription {
	t.Helper()
	s, err := e.Subscribe(ctxT(t), doc, syncd.SubscribeRequest{}, func(*syncd.Event) {})
	if err != nil {
		t.Fatalf("subscribe %s: %v", doc, err)
	}
	return s
}

// TestLoadBudgetUnloadsLeastRecentlyUsedIdle: at MaxLoadedDocs, loading
// another document unloads the idle document used longest ago, skipping one
// that is older but in use; what an unloaded document committed is loaded
// back intact.
func TestLoadBudgetUnloadsLeastRecentlyUsedIdle(t *testing.T) {
	clock := newManualClock()
	e, _ := open(t, syncd.Options{MaxLoadedDocs: 4, Now: clock.Now})

	busy := join(t, e, "busy") // oldest, but kept subscribed
	defer busy.Close()
	for _, doc := range []string{"a", "b", "c"} {
		clock.advance(time.Second)
		mustCommit(t, e, doc, merge(`{"name":"`+doc+`"}`))
		join(t, e, doc).Close()
	}
	all := []string{"busy", "a", "b", "c", "new1", "new2"}
	if got := loadedOf(e, all...); !slices.Equal(got, []string{"busy", "a", "b", "c"}) {
		t.Fatalf("loaded %v before the budget is reached", got)
	}

	clock.advance(2 * time.Second) // past the grace of the newest
	join(t, e, "new1").Close()
	if got, want := loadedOf(e, all...), []string{"busy", "b", "c", "new1"}; !slices.Equal(got, want) {
		t.Errorf("after loading new1: loaded %v, want %v (a, the least recently used idle, unloaded)", got, want)
	}
	clock.advance(2 * time.Second)
	join(t, e, "new2").Close()
	if got, want := loadedOf(e, all...), []string{"busy", "c", "new1", "new2"}; !slices.Equal(got, want) {
		t.Errorf("after loading new2: loaded %v, want %v", got, want)
	}
	if n := e.Loaded(); n != 4 {
		t.Errorf("Loaded() = %d, want the budget, 4", n)
	}

	// a comes back from the store as it was, in place of the idle b... c.
	clock.advance(2 * time.Second)
	snap, err := e.State(ctxT(t), "a")
	if err != nil || snap.Rev != 1 || string(snap.State) != `{"name":"a"}` {
		t.Fatalf("a reloaded: %+v, %v; want revision 1 {\"name\":\"a\"}", snap, err)
	}
}

// TestLoadBudgetRefusesWhenEveryDocIsInUse: when every loaded document has
// a subscriber, another load is refused with CodeExhausted, nothing is
// created, and the same call succeeds once a document is let go.
func TestLoadBudgetRefusesWhenEveryDocIsInUse(t *testing.T) {
	clock := newManualClock()
	e, _ := open(t, syncd.Options{MaxLoadedDocs: 2, Now: clock.Now})
	a := join(t, e, "a")
	b := join(t, e, "b")
	defer b.Close()
	clock.advance(time.Hour)

	_, err := e.Subscribe(ctxT(t), "c", syncd.SubscribeRequest{}, func(*syncd.Event) {})
	wantCode(t, err, syncd.CodeExhausted)
	_, err = e.Commit(ctxT(t), "c", merge(`{"x":1}`))
	wantCode(t, err, syncd.CodeExhausted)
	if n := e.Loaded(); n != 2 {
		t.Errorf("Loaded() = %d after the refusals, want 2", n)
	}

	a.Close()
	// A full table that had nothing to unload is not scanned again for
	// 50ms (noRoomRecheck): a load right after the refusal is refused too.
	_, err = e.Subscribe(ctxT(t), "c", syncd.SubscribeRequest{}, func(*syncd.Event) {})
	wantCode(t, err, syncd.CodeExhausted)
	clock.advance(50 * time.Millisecond)
	join(t, e, "c").Close()
	if got := loadedOf(e, "a", "b", "c"); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("loaded %v, want [b c]", got)
	}
	// c's refused commit created nothing: it is empty at revision 0.
	if snap, err := e.State(ctxT(t), "c"); err != nil || snap.Rev != 0 {
		t.Errorf("c after the refused commit: %+v, %v; want revision 0", snap, err)
	}
}

// TestLoadBudgetSparesRecentlyUsed: a document used within the last second
// is not unloaded to make room, so that two loads at a full table cannot
// unload each other's documents before their callers get to use them.
func TestLoadBudgetSparesRecentlyUsed(t *testing.T) {
	clock := newManualClock()
	e, _ := open(t, syncd.Options{MaxLoadedDocs: 1, Now: clock.Now})
	join(t, e, "a").Close()
	clock.advance(500 * time.Millisecond)
	_, err := e.Subscribe(ctxT(t), "b", syncd.SubscribeRequest{}, func(*syncd.Event) {})
	wantCode(t, err, syncd.CodeExhausted)
	clock.advance(500 * time.Millisecond)
	join(t, e, "b").Close()
	if got := loadedOf(e, "a", "b"); !slices.Equal(got, []string{"b"}) {
		t.Errorf("loaded %v, want [b]", got)
	}
}

// TestMayCreate: a subscription that would create a document asks
// MayCreate first; its refusal comes back as it is and creates nothing.
// Joining a document that exists does not ask.
func TestMayCreate(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	errNo := errors.New("no more documents for you")
	asked := 0
	refuse := syncd.SubscribeRequest{MayCreate: func() error { asked++; return errNo }}
	_, err := e.Subscribe(ctxT(t), "new", refuse, func(*syncd.Event) {})
	if !errors.Is(err, errNo) || asked != 1 {
		t.Fatalf("Subscribe = %v after %d questions; want the refusal after 1", err, asked)
	}
	_, err = e.State(ctxT(t), "new")
	wantCode(t, err, syncd.CodeNotFound)

	mustCommit(t, e, "old", merge(`{"x":1}`))
	s, err := e.Subscribe(ctxT(t), "old", refuse, func(*syncd.Event) {})
	if err != nil || asked != 1 {
		t.Fatalf("Subscribe to an existing document = %v after %d questions; want success, not asked", err, asked)
	}
	s.Close()

	allow := syncd.SubscribeRequest{MayCreate: func() error { asked++; return nil }}
	subscribe := func() {
		s, err := e.Subscribe(ctxT(t), "new", allow, func(*syncd.Event) {})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	subscribe()
	subscribe()
	if asked != 2 {
		t.Errorf("asked %d times, want 2 (once for the creation, not for the second join)", asked)
	}
}

// TestLoadBudgetConcurrent: loads racing at a small budget never push the
// table past it, refuse only with CodeExhausted, and lose no edit (run it
// under -race; it also exercises reserveSlot against the janitor's locks).
func TestLoadBudgetConcurrent(t *testing.T) {
	clock := newManualClock()
	const budget, workers, docsEach = 8, 6, 40
	e, _ := open(t, syncd.Options{MaxLoadedDocs: budget, Now: clock.Now, IdleTimeout: time.Hour})
	var wg sync.WaitGroup
	errs := make(chan error, workers*docsEach)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range docsEach {
				clock.advance(time.Second) // everything older is out of its grace
				doc := fmt.Sprintf("w%d/%d", w, i%5)
				s, err := e.Subscribe(ctxT(t), doc, syncd.SubscribeRequest{}, func(*syncd.Event) {})
				if err != nil {
					errs <- err
					continue
				}
				_, err = e.Commit(ctxT(t), doc, merge(fmt.Sprintf(`{"n%d":%d}`, i, i)))
				s.Close()
				if err != nil {
					errs <- err
				}
				if n := e.Loaded(); n > budget {
					errs <- fmt.Errorf("%d documents loaded, over the budget of %d", n, budget)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if syncd.CodeOf(err) != syncd.CodeExhausted {
			t.Error(err)
		}
	}
	if err := syncd.CheckCharges(e); err != nil {
		t.Error(err)
	}
	// Every committed edit is in its document, loaded or not.
	total := 0
	for w := range workers {
		for d := range 5 {
			clock.advance(2 * time.Second)
			snap, err := e.State(ctxT(t), fmt.Sprintf("w%d/%d", w, d))
			if err != nil {
				t.Fatal(err)
			}
			total += int(snap.Rev)
		}
	}
	if want := int(e.Stats().Operations); total != want {
		t.Errorf("the documents hold %d operations, the engine committed %d", total, want)
	}
}

// TestLoadedBytesFollowTheDocuments: a loaded document is charged 2 KiB
// plus its encoded size plus its ring's operations; edits add to the charge
// and unloading takes it back.
func TestLoadedBytesFollowTheDocuments(t *testing.T) {
	clock := newManualClock()
	e, _ := open(t, syncd.Options{MaxLoadedDocs: 1, Now: clock.Now})
	join(t, e, "a").Close()
	if got, want := e.LoadedBytes(), int64(2<<10+len("{}")); got != want {
		t.Errorf("an empty document: %d loaded bytes, want %d", got, want)
	}
	value := strings.Repeat("x", 1000)
	op := mustCommit(t, e, "a", merge(`{"v":"`+value+`"}`))
	state := int64(len(`{"v":"` + value + `"}`))
	if got, want := e.LoadedBytes(), 2<<10+state+int64(op.EncodedSize()); got != want {
		t.Errorf("after a 1 KB edit: %d loaded bytes, want %d", got, want)
	}
	if err := syncd.CheckCharges(e); err != nil {
		t.Error(err)
	}
	clock.advance(2 * time.Second)
	join(t, e, "b").Close() // unloads a
	if got, want := e.LoadedBytes(), int64(2<<10+len("{}")); got != want {
		t.Errorf("a unloaded for b: %d loaded bytes, want %d", got, want)
	}
}

// TestLoadedBytesBudget: a document in use that takes the loaded bytes over
// MaxLoadedBytes makes the next load wait for it to be let go (refused with
// CodeExhausted until then), however few documents are loaded.
func TestLoadedBytesBudget(t *testing.T) {
	clock := newManualClock()
	e, _ := open(t, syncd.Options{MaxLoadedBytes: 16 << 10, Now: clock.Now})
	big := join(t, e, "big")
	mustCommit(t, e, "big", merge(`{"v":"`+strings.Repeat("x", 10<<10)+`"}`))
	clock.advance(2 * time.Second)
	if n := e.LoadedBytes(); n < 16<<10 {
		t.Fatalf("%d loaded bytes, want the budget of %d exceeded", n, 16<<10)
	}
	_, err := e.Subscribe(ctxT(t), "small", syncd.SubscribeRequest{}, func(*syncd.Event) {})
	wantCode(t, err, syncd.CodeExhausted)

	big.Close()
	clock.advance(50 * time.Millisecond) // past noRoomRecheck
	join(t, e, "small").Close()
	if got := loadedOf(e, "big", "small"); !slices.Equal(got, []string{"small"}) {
		t.Errorf("loaded %v, want [small]", got)
	}
}
