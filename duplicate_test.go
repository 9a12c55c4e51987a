package syncd_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/memstore"
)

// seen records, in order, the operations a subscriber received and the
// answers the test's edits got, so that a test can tell which came first.
type seen struct {
	mu     sync.Mutex
	log    []string
	signal chan struct{}
}

func newSeen() *seen { return &seen{signal: make(chan struct{}, 16)} }

func (s *seen) add(what string) {
	s.mu.Lock()
	s.log = append(s.log, what)
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

func (s *seen) sink(ev *syncd.Event) {
	for _, op := range ev.Ops {
		if op.ClientReqID != "" {
			s.add("op " + op.ClientReqID)
		}
	}
}

func (s *seen) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// waitFor waits until what is in the log and returns the log.
func (s *seen) waitFor(t *testing.T, what string) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		log := s.snapshot()
		for _, x := range log {
			if x == what {
				return log
			}
		}
		select {
		case <-s.signal:
		case <-deadline:
			t.Fatalf("timed out waiting for %q; seen %v", what, log)
		}
	}
}

func indexOf(log []string, what string) int {
	for i, x := range log {
		if x == what {
			return i
		}
	}
	return -1
}

// heldStore holds the commit after it is armed until the gate opens.
type heldStore struct {
	syncd.Store
	armed   chan struct{} // closed: the next commit waits for gate
	entered chan struct{}
	gate    chan struct{}
	once    sync.Once
}

func (h *heldStore) Commit(ctx context.Context, batch []syncd.Record) error {
	select {
	case <-h.armed:
		h.once.Do(func() {
			close(h.entered)
			<-h.gate
		})
	default:
	}
	return h.Store.Commit(ctx, batch)
}

// A client that resends an edit whose first copy is still being written
// (decided, its fsync not done) is told "already decided" only after the
// first copy's operation has reached its subscription: a client that saw
// the duplicate answer first would take an applied edit for a refused one
// (PROTOCOL.md §6.7).
func TestDuplicateAnsweredAfterTheDecisionInFlight(t *testing.T) {
	h := &heldStore{Store: memstore.New(memstore.Options{}), armed: make(chan struct{}), entered: make(chan struct{}), gate: make(chan struct{})}
	e, err := syncd.Open(h, syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); h.Close() })
	var openGate sync.Once
	release := func() { openGate.Do(func() { close(h.gate) }) }
	t.Cleanup(release) // before Close, on a failure: the held commit must end
	ctx := ctxT(t)
	mustCommit(t, e, "d", merge(`{"a":1}`))
	s := newSeen()
	sub, err := e.Subscribe(ctx, "d", syncd.SubscribeRequest{ClientID: "c"}, s.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	close(h.armed)
	edit := syncd.Edit{ClientID: "c", ReqID: "r1", Patch: []byte(`{"b":1}`)}
	first := make(chan error, 1)
	e.CommitAsync(ctx, "d", edit, func(_ *syncd.Op, err error) { first <- err })
	<-h.entered // decided, and held before its write
	e.CommitAsync(ctx, "d", edit, func(_ *syncd.Op, err error) {
		s.add("answer " + syncd.CodeOf(err).String())
	})
	// Held: nothing may be answered while the first copy is unwritten.
	// (A wrong engine answers at once; the wait only gives it the chance.)
	time.Sleep(50 * time.Millisecond)
	if log := s.snapshot(); len(log) != 0 {
		t.Fatalf("answered before the first copy was written: %v", log)
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	log := s.waitFor(t, "answer "+syncd.CodeDuplicate.String())
	if op := indexOf(log, "op r1"); op < 0 || op > indexOf(log, "answer "+syncd.CodeDuplicate.String()) {
		t.Fatalf("the duplicate was answered before its operation was delivered: %v", log)
	}
}

// quietHandle is a shared store handle whose watches never fire: its
// engine learns of other writers' operations only when it reads the log.
type quietHandle struct{ *memstore.Handle }

func (quietHandle) Watch(string, func(syncd.StoredChange)) (stop func()) { return func() {} }

// On a shared store, an engine that learns from the store that a client's
// resent edit was decided by another instance (the client moved here
// while that instance's append was in flight) answers "already decided"
// only once its copy has followed the log to that decision, so the
// client's subscription here gets the operation first.
func TestSharedDuplicateAnsweredAfterTheOtherWritersDecision(t *testing.T) {
	sh := memstore.NewShared(memstore.Options{})
	engines := openOn(t, sh, []syncd.Store{sh.Open(), quietHandle{sh.Open()}}, syncd.Options{})
	a, b := engines[0], engines[1]
	ctx := ctxT(t)
	mustCommit(t, a, "d", merge(`{"a":1}`))
	s := newSeen()
	// Joined without a client id: b has not cached c's watermark, and
	// reads it from the store when the edit comes.
	sub, err := b.Subscribe(ctx, "d", syncd.SubscribeRequest{}, s.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	edit := syncd.Edit{ClientID: "c", ReqID: "r1", Patch: []byte(`{"b":1}`)}
	mustCommit(t, a, "d", edit) // decided and stored by a; b has not followed
	_, err = b.Commit(ctx, "d", edit)
	wantCode(t, err, syncd.CodeDuplicate)
	s.add("answer")
	if log := s.snapshot(); indexOf(log, "op r1") < 0 {
		t.Fatalf("the duplicate was answered before its operation was delivered here: %v", log)
	}
}
