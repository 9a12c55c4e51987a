package syncd_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// TestCatchUpCarriesOutcomes: the last catch-up event of a subscriber with
// a client id carries what became of its recent request ids, oldest first,
// with the engine's code names for refusals, a rate-limit refusal (Refuse)
// included; other clients' decisions are not among them.
func TestCatchUpCarriesOutcomes(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	mustCommit(t, e, "d", syncd.Edit{ClientID: "alice", ReqID: "0005", Patch: json.RawMessage(`{"a":1}`)})
	_, err := e.Commit(ctxT(t), "d", syncd.Edit{ClientID: "alice", ReqID: "0007", Patch: json.RawMessage(`[{"op":"remove","path":"/zz"}]`)})
	wantCode(t, err, syncd.CodePrecondition)
	mustCommit(t, e, "d", syncd.Edit{ClientID: "bob", ReqID: "0001", Patch: json.RawMessage(`{"b":1}`)})
	refused := make(chan error, 1)
	e.Refuse(ctxT(t), "d", "alice", "0009", func(_ revision.Rev, err error) { refused <- err })
	if err := <-refused; err != nil {
		t.Fatal(err)
	}
	rec, _ := subscribe(t, e, "d", syncd.SubscribeRequest{ClientID: "alice"})
	evs := catchUp(t, rec)
	last := evs[len(evs)-1]
	want := []revision.Outcome{{ReqID: "0005", Rev: 1}, {ReqID: "0007", Code: "precondition"}, {ReqID: "0009", Code: "rate_limited"}}
	if last.AckedReqID != "0009" || !slices.Equal(last.Outcomes, want) {
		t.Fatalf("acked %q, outcomes %+v; want 0009, %+v", last.AckedReqID, last.Outcomes, want)
	}
	rec, _ = subscribe(t, e, "d", syncd.SubscribeRequest{ClientID: "carol"})
	if ev := catchUp(t, rec)[0]; len(ev.Outcomes) != 0 {
		t.Fatalf("carol got outcomes %+v", ev.Outcomes)
	}
	if c, ok := syncd.ParseCode("rate_limited"); !ok || c != syncd.CodeRateLimited || c.String() != "rate_limited" {
		t.Fatalf("ParseCode(rate_limited) = %v, %v", c, ok)
	}
}
