package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/deltasync/syncd"
)

// The client-record clauses of the contract (syncd.Store.ClaimClient), as
// subtests of one case each, so the suite's case lists name them once.

func testClients(t *testing.T, open Opener) {
	t.Run("OwnerBindsOnce", func(t *testing.T) { testClientOwnerBindsOnce(t, open) })
	t.Run("AttemptRises", func(t *testing.T) { testClientAttemptRises(t, open) })
	t.Run("RefusalChangesNothing", func(t *testing.T) { testClientRefusalChangesNothing(t, open) })
	t.Run("KeptAfterDelete", func(t *testing.T) { testClientKeptAfterDelete(t, open) })
	t.Run("Malformed", func(t *testing.T) { testClientMalformed(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testClientConcurrent(t, open) })
}

// claim calls ClaimClient and fails the test on a store failure (an error
// that is not one of the two answers).
func (h *harness) claim(id, owner, attempt string) (syncd.ClientRecord, error) {
	h.t.Helper()
	r, err := h.s.ClaimClient(h.ctx, syncd.ClientClaim{ClientID: id, Owner: owner, Attempt: attempt})
	if err != nil && !errors.Is(err, syncd.ErrClientOwned) && !errors.Is(err, syncd.ErrStaleAttempt) {
		h.t.Fatalf("ClaimClient(%s, %q, %q): %v", id, owner, attempt, err)
	}
	return r, err
}

// record reads a client's record: a claim with neither owner nor attempt
// is always granted and changes nothing.
func (h *harness) record(id string) syncd.ClientRecord {
	h.t.Helper()
	r, err := h.claim(id, "", "")
	if err != nil {
		h.t.Fatalf("a claim without owner or attempt: %v", err)
	}
	return r
}

func (h *harness) mustClaim(id, owner, attempt string) syncd.ClientRecord {
	h.t.Helper()
	r, err := h.claim(id, owner, attempt)
	if err != nil {
		h.t.Fatalf("ClaimClient(%s, %q, %q): %v, want granted", id, owner, attempt, err)
	}
	return r
}

func (h *harness) mustRefuse(id, owner, attempt string, want error) syncd.ClientRecord {
	h.t.Helper()
	r, err := h.claim(id, owner, attempt)
	if !errors.Is(err, want) {
		h.t.Fatalf("ClaimClient(%s, %q, %q): %v, want %v", id, owner, attempt, err, want)
	}
	return r
}

func testClientOwnerBindsOnce(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	if r := h.record("c1"); r != (syncd.ClientRecord{}) {
		t.Fatalf("an unclaimed id has record %+v, want the zero record", r)
	}
	if r := h.mustClaim("c1", "ada", ""); r.Owner != "ada" {
		t.Fatalf("record after the first claim: %+v, want owner ada", r)
	}
	if r := h.mustRefuse("c1", "bob", "", syncd.ErrClientOwned); r.Owner != "ada" {
		t.Fatalf("a refused claim returned %+v, want the owner's record", r)
	}
	h.mustClaim("c1", "ada", "")
	// No owner (authentication off) neither checks nor binds.
	if r := h.mustClaim("c1", "", ""); r.Owner != "ada" {
		t.Fatalf("record after an ownerless claim: %+v", r)
	}
	h.mustClaim("c2", "", "")
	if r := h.mustClaim("c2", "bob", ""); r.Owner != "bob" {
		t.Fatalf("an id first used without an owner is bound by the first owner: %+v", r)
	}
}

func testClientAttemptRises(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	const a1, a2 = "01JD3NB8W5C2K7R4M9X1T6Q3F1", "01JD3NB8W5C2K7R4M9X1T6Q3F2"
	h.mustClaim("c1", "", a1)
	h.mustRefuse("c1", "", a1, syncd.ErrStaleAttempt) // equal is stale
	if r := h.mustClaim("c1", "", a2); r.Attempt != a2 {
		t.Fatalf("record %+v, want attempt %s", r, a2)
	}
	h.mustRefuse("c1", "", a1, syncd.ErrStaleAttempt)
	// No attempt: no check, and the stored one stays.
	if r := h.mustClaim("c1", "", ""); r.Attempt != a2 {
		t.Fatalf("a claim without attempt changed the record to %+v", r)
	}
	// Request-id order: length first.
	h.mustClaim("c2", "", "r-9")
	h.mustClaim("c2", "", "r-10")
	h.mustRefuse("c2", "", "r-8", syncd.ErrStaleAttempt)
}

func testClientRefusalChangesNothing(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.mustClaim("c1", "ada", "a-1")
	// Another user's attempt, however high, must not move the owner's
	// attempt (or it could lock the owner out).
	h.mustRefuse("c1", "bob", "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~", syncd.ErrClientOwned)
	if r := h.record("c1"); r != (syncd.ClientRecord{Owner: "ada", Attempt: "a-1"}) {
		t.Fatalf("record after another user's claim: %+v", r)
	}
	h.mustRefuse("c1", "ada", "a-0", syncd.ErrStaleAttempt)
	h.mustClaim("c1", "ada", "a-2")
}

func testClientKeptAfterDelete(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	h.mustClaim("c1", "ada", "a-1")
	h.batch().create("d").mergeN("d", 2).decide("d", "c1", "r-5").mustCommit()
	h.batch().delete("d").mustCommit()
	if r := h.record("c1"); r != (syncd.ClientRecord{Owner: "ada", Attempt: "a-1"}) {
		t.Fatalf("record after its client's document was deleted: %+v", r)
	}
}

func testClientMalformed(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	for _, c := range []syncd.ClientClaim{
		{ClientID: ""},
		{ClientID: "c1", Attempt: "has space"},
		{ClientID: "c1", Attempt: string(make([]byte, 65))},
	} {
		_, err := h.s.ClaimClient(h.ctx, c)
		if err == nil || errors.Is(err, syncd.ErrClientOwned) || errors.Is(err, syncd.ErrStaleAttempt) {
			t.Errorf("ClaimClient(%+q): %v, want a failure", c, err)
		}
	}
	if r := h.record("c1"); r != (syncd.ClientRecord{}) {
		t.Fatalf("malformed claims left a record: %+v", r)
	}
}

// testClientConcurrent races attempts of one client id: the greatest is
// always granted, the record ends with it, and no attempt is granted after
// a greater one was (each call decides against what the one before left).
func testClientConcurrent(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	const n = 32
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		granted []string
		fail    error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := fmt.Sprintf("a-%03d", i)
			r, err := h.s.ClaimClient(h.ctx, syncd.ClientClaim{ClientID: "c1", Owner: "ada", Attempt: a})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				if r.Attempt != a {
					fail = fmt.Errorf("granted %s but the record says %+v", a, r)
				}
				granted = append(granted, a)
			case !errors.Is(err, syncd.ErrStaleAttempt):
				fail = err
			}
		}()
	}
	wg.Wait()
	if fail != nil {
		t.Fatal(fail)
	}
	last := fmt.Sprintf("a-%03d", n-1)
	if r := h.record("c1"); r.Attempt != last || r.Owner != "ada" {
		t.Fatalf("record after the race: %+v, want attempt %s", r, last)
	}
	if len(granted) == 0 {
		t.Fatal("no attempt was granted")
	}
}

// testReopenKeepsClients: client records are durable.
func testReopenKeepsClients(t *testing.T, open Opener, reopen Reopener) {
	h := newHarness(t, open, Options{})
	h.mustClaim("c1", "ada", "a-1")
	h.mustClaim("c2", "", "a-7")
	h.reopen(t, reopen)
	if r := h.record("c1"); r != (syncd.ClientRecord{Owner: "ada", Attempt: "a-1"}) {
		t.Errorf("c1 after reopening: %+v", r)
	}
	if r := h.record("c2"); r != (syncd.ClientRecord{Attempt: "a-7"}) {
		t.Errorf("c2 after reopening: %+v", r)
	}
	h.mustRefuse("c1", "bob", "", syncd.ErrClientOwned)
	h.mustRefuse("c2", "", "a-7", syncd.ErrStaleAttempt)
}
