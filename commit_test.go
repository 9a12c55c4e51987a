package syncd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

func TestCommitAssignsContiguousRevisions(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	for i := 1; i <= 5; i++ {
		op := mustCommit(t, e, "todo", merge(fmt.Sprintf(`{"n": %d}`, i)))
		if op.Rev != revision.Rev(i) {
			t.Fatalf("op %d got revision %d", i, op.Rev)
		}
		if op.Kind != syncd.OpMerge || string(op.Payload) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("op %d: kind %s payload %s (want compact)", i, op.Kind, op.Payload)
		}
	}
	op := mustCommit(t, e, "todo", syncd.Edit{Patch: json.RawMessage(`[{"op":"add","path":"/list","value":[1]}]`)})
	if op.Kind != syncd.OpPatch || op.Rev != 6 {
		t.Fatalf("json patch op: %+v", op)
	}
	snap, err := e.State(ctxT(t), "todo")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Rev != 6 || string(snap.State) != `{"list":[1],"n":5}` {
		t.Fatalf("snapshot %d %s", snap.Rev, snap.State)
	}
}

func TestConcurrentCommitsAreTotallyOrdered(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	const writers, each = 8, 50
	var wg sync.WaitGroup
	revs := make(chan revision.Rev, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				op, err := e.Commit(context.Background(), "doc", syncd.Edit{
					ClientID: fmt.Sprintf("c%d", w), ReqID: fmt.Sprintf("r%04d", i),
					Patch: json.RawMessage(fmt.Sprintf(`{"w%d": %d}`, w, i)),
				})
				if err != nil {
					t.Error(err)
					return
				}
				revs <- op.Rev
			}
		}()
	}
	wg.Wait()
	close(revs)
	seen := make(map[revision.Rev]bool)
	for r := range revs {
		if seen[r] {
			t.Fatalf("revision %d assigned twice", r)
		}
		seen[r] = true
	}
	for r := revision.Rev(1); r <= writers*each; r++ {
		if !seen[r] {
			t.Fatalf("revision %d missing", r)
		}
	}
}

func TestDuplicateRequestIsNotAppliedAgain(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	ed := syncd.Edit{ClientID: "alice", ReqID: "req-2", Patch: json.RawMessage(`{"a":1}`)}
	mustCommit(t, e, "d", ed)
	_, err := e.Commit(ctxT(t), "d", ed)
	ee := wantCode(t, err, syncd.CodeDuplicate)
	if ee.Doc != "d" || ee.ReqID != "req-2" || ee.Head != 1 {
		t.Fatalf("refusal details %+v", ee)
	}
	// Lower ids are decided too; another client's ids are independent.
	ed.ReqID = "req-1"
	_, err = e.Commit(ctxT(t), "d", ed)
	wantCode(t, err, syncd.CodeDuplicate)
	mustCommit(t, e, "d", syncd.Edit{ClientID: "bob", ReqID: "req-1", Patch: json.RawMessage(`{"b":1}`)})
	// A higher id applies; counters order by length first.
	ed.ReqID = "req-10"
	if op := mustCommit(t, e, "d", ed); op.Rev != 3 || op.ClientReqID != "req-10" {
		t.Fatalf("op %+v", op)
	}
}

func TestRefusalAdvancesWatermark(t *testing.T) {
	e, st := open(t, syncd.Options{})
	mustCommit(t, e, "d", merge(`{"a":1}`))
	bad := syncd.Edit{ClientID: "alice", ReqID: "01", Patch: json.RawMessage(`[{"op":"test","path":"/a","value":2}]`)}
	_, err := e.Commit(ctxT(t), "d", bad)
	ee := wantCode(t, err, syncd.CodePrecondition)
	if ee.ReqID != "01" || ee.Head != 1 {
		t.Fatalf("details %+v", ee)
	}
	w, err := st.Watermark(ctxT(t), "d", "alice")
	if err != nil || w.ReqID != "01" {
		t.Fatalf("stored watermark %q, %v; want the refused id", w.ReqID, err)
	}
	_, err = e.Commit(ctxT(t), "d", bad)
	wantCode(t, err, syncd.CodeDuplicate)
	// Re-issued under a new id, fixed, it applies.
	fixed := syncd.Edit{ClientID: "alice", ReqID: "02", Patch: json.RawMessage(`[{"op":"test","path":"/a","value":1},{"op":"replace","path":"/a","value":3}]`)}
	mustCommit(t, e, "d", fixed)
}

func TestRefusalsLeaveTheDocumentUnchanged(t *testing.T) {
	e, _ := open(t, syncd.Options{MaxDocSize: 64})
	mustCommit(t, e, "d", merge(`{"a":{"b":1},"list":[1,2]}`))
	before, _ := e.State(ctxT(t), "d")
	cases := []struct {
		name  string
		patch string
		code  syncd.Code
	}{
		{"malformed", `[{"op":"jump","path":"/a"}]`, syncd.CodeInvalid},
		{"not json", `{"a":`, syncd.CodeInvalid},
		{"scalar patch", `42`, syncd.CodeInvalid},
		{"missing path", `[{"op":"replace","path":"/nope/x","value":1}]`, syncd.CodePrecondition},
		{"failing test", `[{"op":"add","path":"/c","value":1},{"op":"test","path":"/a/b","value":2}]`, syncd.CodePrecondition},
		{"root to array", `[{"op":"replace","path":"","value":[1]}]`, syncd.CodeInvalid},
		{"too large", `{"big":"` + strings.Repeat("x", 100) + `"}`, syncd.CodeTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Commit(ctxT(t), "d", syncd.Edit{Patch: json.RawMessage(c.patch)})
			wantCode(t, err, c.code)
			after, _ := e.State(ctxT(t), "d")
			if after.Rev != before.Rev || string(after.State) != string(before.State) {
				t.Fatalf("document changed: %d %s", after.Rev, after.State)
			}
		})
	}
}

func TestEpochMismatchIsRefused(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	mustCommit(t, e, "d", merge(`{"a":1}`))
	snap, _ := e.State(ctxT(t), "d")
	ok := merge(`{"a":2}`)
	ok.Epoch = snap.Epoch
	mustCommit(t, e, "d", ok)
	stale := merge(`{"a":3}`)
	stale.Epoch = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	_, err := e.Commit(ctxT(t), "d", stale)
	wantCode(t, err, syncd.CodeEpoch)
}

func TestRebasePolicy(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	mustCommit(t, e, "d", merge(`{"title":"t","tags":{"x":1},"list":[1,2,3]}`))                            // rev 1
	mustCommit(t, e, "d", merge(`{"title":"t2"}`))                                                         // rev 2 touches /title
	mustCommit(t, e, "d", syncd.Edit{Patch: json.RawMessage(`[{"op":"add","path":"/list/0","value":0}]`)}) // rev 3 touches /list

	based := func(base revision.Rev, patch string) syncd.Edit {
		return syncd.Edit{Base: base, HasBase: true, Patch: json.RawMessage(patch)}
	}
	// Disjoint paths rebase automatically.
	mustCommit(t, e, "d", based(1, `{"tags":{"y":2}}`))
	// /title changed since 1.
	_, err := e.Commit(ctxT(t), "d", based(1, `{"title":"mine"}`))
	ee := wantCode(t, err, syncd.CodeConflict)
	if ee.Head != 4 {
		t.Fatalf("conflict head %d, want 4", ee.Head)
	}
	// Any edit inside the array conflicts with the insertion at rev 3.
	_, err = e.Commit(ctxT(t), "d", based(2, `[{"op":"replace","path":"/list/2","value":9}]`))
	wantCode(t, err, syncd.CodeConflict)
	// A parent of a changed path overlaps it.
	_, err = e.Commit(ctxT(t), "d", based(3, `[{"op":"remove","path":"/tags"}]`))
	wantCode(t, err, syncd.CodeConflict)
	// Based on the head, anything goes; no base at all is arrival order.
	mustCommit(t, e, "d", based(4, `{"title":"mine"}`))
	mustCommit(t, e, "d", merge(`{"title":"last"}`))
	// A base ahead of the head is invalid.
	_, err = e.Commit(ctxT(t), "d", based(99, `{"x":1}`))
	wantCode(t, err, syncd.CodeInvalid)
}

func TestRebaseNeedsTheBaseInMemory(t *testing.T) {
	e, _ := open(t, syncd.Options{RingSize: 4})
	for i := 0; i < 10; i++ {
		mustCommit(t, e, "d", merge(fmt.Sprintf(`{"k%d":1}`, i)))
	}
	_, err := e.Commit(ctxT(t), "d", syncd.Edit{Base: 2, HasBase: true, Patch: json.RawMessage(`{"other":1}`)})
	wantCode(t, err, syncd.CodeConflict)
}

func TestStrictAndLWWPolicies(t *testing.T) {
	e, _ := open(t, syncd.Options{Policies: map[string]syncd.Policy{"s/": syncd.PolicyStrict, "l/": syncd.PolicyLWW, "s/loose/": syncd.PolicyRebase}})
	for _, doc := range []string{"s/a", "l/a", "s/loose/a"} {
		mustCommit(t, e, doc, syncd.Edit{Base: 0, HasBase: true, Patch: json.RawMessage(`{"v":1}`)})
		mustCommit(t, e, doc, syncd.Edit{Base: 1, HasBase: true, Patch: json.RawMessage(`{"v":2}`)})
	}
	// strict: a base is required and must be the head.
	_, err := e.Commit(ctxT(t), "s/b", merge(`{"v":1}`))
	wantCode(t, err, syncd.CodeConflict)
	_, err = e.Commit(ctxT(t), "s/a", syncd.Edit{Base: 1, HasBase: true, Patch: json.RawMessage(`{"w":1}`)})
	wantCode(t, err, syncd.CodeConflict)
	// lww: an overlapping stale edit still applies, and so does one
	// without a base.
	mustCommit(t, e, "l/a", syncd.Edit{Base: 1, HasBase: true, Patch: json.RawMessage(`{"v":3}`)})
	mustCommit(t, e, "l/a", merge(`{"v":4}`))
	// the longer prefix wins: s/loose/ is rebase.
	mustCommit(t, e, "s/loose/a", syncd.Edit{Base: 1, HasBase: true, Patch: json.RawMessage(`{"w":1}`)})
}

func TestStrictPolicyAcceptsTheHead(t *testing.T) {
	e, _ := open(t, syncd.Options{Policies: map[string]syncd.Policy{"": syncd.PolicyStrict}})
	mustCommit(t, e, "d", syncd.Edit{Base: 0, HasBase: true, Patch: json.RawMessage(`{"v":1}`)})
	mustCommit(t, e, "d", syncd.Edit{Base: 1, HasBase: true, Patch: json.RawMessage(`{"v":2}`)})
}

func TestValidateHook(t *testing.T) {
	e, _ := open(t, syncd.Options{Validate: func(_ context.Context, v *syncd.Validation) error {
		m := v.State.(map[string]any)
		if _, ok := m["forbidden"]; ok {
			return errors.New("no forbidden keys")
		}
		if n, ok := m["count"].(json.Number); ok && n.String() == "13" {
			return syncd.Errorf(syncd.CodeInvalid, "unlucky")
		}
		return nil
	}})
	mustCommit(t, e, "d", merge(`{"count":1}`))
	_, err := e.Commit(ctxT(t), "d", merge(`{"forbidden":true}`))
	wantCode(t, err, syncd.CodeRejected)
	_, err = e.Commit(ctxT(t), "d", merge(`{"count":13}`))
	wantCode(t, err, syncd.CodeInvalid)
	snap, _ := e.State(ctxT(t), "d")
	if string(snap.State) != `{"count":1}` || snap.Rev != 1 {
		t.Fatalf("state %s @%d", snap.State, snap.Rev)
	}
}

func TestInvalidIDs(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	for _, doc := range []string{"", "has space", strings.Repeat("x", 129), "é"} {
		_, err := e.Commit(ctxT(t), doc, merge(`{}`))
		wantCode(t, err, syncd.CodeInvalid)
	}
	_, err := e.Commit(ctxT(t), "ok:doc_1.2/x-y", syncd.Edit{ClientID: "c", ReqID: "bad id", Patch: json.RawMessage(`{}`)})
	wantCode(t, err, syncd.CodeInvalid)
}

func TestClosedEngine(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	mustCommit(t, e, "d", merge(`{"a":1}`))
	e.Close()
	_, err := e.Commit(ctxT(t), "d", merge(`{"a":2}`))
	wantCode(t, err, syncd.CodeClosed)
}

func TestPayloadIsStoredCompact(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	for _, c := range []struct{ in, want string }{
		{`{"a": "x y", "b" : [1, 2]}`, `{"a":"x y","b":[1,2]}`},
		{`{"q":"say \"hi there\"","t":"\\"}`, `{"q":"say \"hi there\"","t":"\\"}`},
		{"{\"n\":\n1}", `{"n":1}`},
	} {
		op := mustCommit(t, e, "d", merge(c.in))
		if string(op.Payload) != c.want {
			t.Fatalf("payload %s, want %s", op.Payload, c.want)
		}
	}
}

func TestCommitAsyncDecidesInCallOrder(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	const n = 200
	revs := make([]revision.Rev, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		e.CommitAsync(ctxT(t), "d", syncd.Edit{ClientID: "c", ReqID: fmt.Sprintf("%05d", i), Patch: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}, func(op *syncd.Op, err error) {
			defer wg.Done()
			if err != nil {
				t.Error(err)
				return
			}
			revs[i] = op.Rev
		})
	}
	wg.Wait()
	for i, r := range revs {
		if r != revision.Rev(i+1) {
			t.Fatalf("edit %d got revision %d", i, r)
		}
	}
}

func TestRefuseRecordsTheDecision(t *testing.T) {
	e, st := open(t, syncd.Options{})
	mustCommit(t, e, "d", merge(`{"a":1}`))
	done := make(chan error, 1)
	e.Refuse(ctxT(t), "d", "alice", "r5", func(head revision.Rev, err error) {
		if head != 1 {
			t.Errorf("head %d", head)
		}
		done <- err
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if w, _ := st.Watermark(ctxT(t), "d", "alice"); w.ReqID != "r5" {
		t.Fatalf("watermark %q", w.ReqID)
	}
	_, err := e.Commit(ctxT(t), "d", syncd.Edit{ClientID: "alice", ReqID: "r5", Patch: json.RawMessage(`{"a":2}`)})
	wantCode(t, err, syncd.CodeDuplicate)
	e.Refuse(ctxT(t), "d", "alice", "r4", func(_ revision.Rev, err error) { done <- err })
	wantCode(t, <-done, syncd.CodeDuplicate)
}

func TestOwnOperationsDoNotConflict(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	mustCommit(t, e, "d", merge(`{"title":"a"}`)) // rev 1
	edit := func(client, req, patch string) syncd.Edit {
		return syncd.Edit{ClientID: client, ReqID: req, Base: 1, HasBase: true, Patch: json.RawMessage(patch)}
	}
	// Alice pipelines two edits of /title, both based on revision 1: the
	// second was made on top of the first.
	mustCommit(t, e, "d", edit("alice", "1", `{"title":"b"}`))
	mustCommit(t, e, "d", edit("alice", "2", `{"title":"c"}`))
	// Bob, also at revision 1, did not see them: conflict.
	_, err := e.Commit(ctxT(t), "d", edit("bob", "1", `{"title":"x"}`))
	wantCode(t, err, syncd.CodeConflict)
}

func TestMalformedPatchIsDecided(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	_, err := e.Commit(ctxT(t), "d", syncd.Edit{ClientID: "alice", ReqID: "5", Patch: json.RawMessage(`[{"op":"nope"}]`)})
	wantCode(t, err, syncd.CodeInvalid)
	_, err = e.Commit(ctxT(t), "d", syncd.Edit{ClientID: "alice", ReqID: "5", Patch: json.RawMessage(`{"ok":true}`)})
	wantCode(t, err, syncd.CodeDuplicate)
}
