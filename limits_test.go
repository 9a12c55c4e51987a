package syncd_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/oklog/ulid/v2"
)

// TestEditLimits: an edit over MaxPatchOps, MaxDocDepth or MaxDocSize (at
// any of its operations) is refused with the code and Limit that name it,
// the document is unchanged, and for a client with ids the refusal is a
// decision.
func TestEditLimits(t *testing.T) {
	e, _ := open(t, syncd.Options{MaxPatchOps: 3, MaxDocDepth: 4, MaxDocSize: 100})
	mustCommit(t, e, "d", merge(`{"keep":"me"}`))
	for _, tc := range []struct {
		name  string
		patch string
		code  syncd.Code
		limit syncd.Limit
	}{
		{"ops", `[{"op":"test","path":"/keep","value":"me"},{"op":"test","path":"/keep","value":"me"},{"op":"test","path":"/keep","value":"me"},{"op":"test","path":"/keep","value":"me"}]`, syncd.CodeInvalid, syncd.LimitPatchOps},
		{"depth", `[{"op":"add","path":"/a","value":{"b":{"c":{"d":{}}}}}]`, syncd.CodeInvalid, syncd.LimitDocDepth},
		{"depth by merge", `{"a":{"b":{"c":{"d":{}}}}}`, syncd.CodeInvalid, syncd.LimitDocDepth},
		{"size midway", `[{"op":"add","path":"/big","value":"` + strings.Repeat("x", 200) + `"},{"op":"remove","path":"/big"}]`, syncd.CodeTooLarge, syncd.LimitDocSize},
		{"size by copies", `[{"op":"copy","from":"","path":"/c0"},{"op":"copy","from":"","path":"/c1"},{"op":"copy","from":"","path":"/c2"}]`, syncd.CodeTooLarge, syncd.LimitDocSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, req := "c-"+tc.name, ulid.Make().String()
			ed := syncd.Edit{ClientID: client, ReqID: req, Patch: json.RawMessage(tc.patch)}
			_, err := e.Commit(ctxT(t), "d", ed)
			ee := wantCode(t, err, tc.code)
			if ee.Limit != tc.limit {
				t.Fatalf("refusal %v names limit %d, want %d", err, ee.Limit, tc.limit)
			}
			_, err = e.Commit(ctxT(t), "d", ed)
			wantCode(t, err, syncd.CodeDuplicate)
			snap, err := e.State(ctxT(t), "d")
			if err != nil || string(snap.State) != `{"keep":"me"}` || snap.Rev != 1 {
				t.Fatalf("after the refusal the document is %+v, %v", snap, err)
			}
		})
	}
	// Within every limit: accepted.
	mustCommit(t, e, "d", syncd.Edit{Patch: json.RawMessage(`[{"op":"add","path":"/a","value":{"b":{"c":1}}},{"op":"copy","from":"/a","path":"/b"},{"op":"remove","path":"/b"}]`)})
}

// TestEditLimitDefaults: the defaults are the documented ones, and a
// patch of exactly MaxPatchOps operations is accepted.
func TestEditLimitDefaults(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	if e.MaxDocDepth() != 256 || e.MaxPatchOps() != 1000 {
		t.Fatalf("defaults: depth %d, ops %d", e.MaxDocDepth(), e.MaxPatchOps())
	}
	ops := make([]string, 1000)
	for i := range ops {
		ops[i] = fmt.Sprintf(`{"op":"add","path":"/k%d","value":%d}`, i, i)
	}
	mustCommit(t, e, "d", syncd.Edit{Patch: json.RawMessage("[" + strings.Join(ops, ",") + "]")})
	_, err := e.Commit(ctxT(t), "d", syncd.Edit{Patch: json.RawMessage("[" + strings.Join(ops, ",") + `,{"op":"remove","path":"/k0"}]`)})
	if ee := wantCode(t, err, syncd.CodeInvalid); ee.Limit != syncd.LimitPatchOps {
		t.Fatalf("1001 operations refused with %v, want LimitPatchOps", err)
	}
	// 256 levels are fine; 257 are not.
	deep := strings.Repeat(`{"x":`, 255) + "1" + strings.Repeat("}", 255)
	mustCommit(t, e, "deep", syncd.Edit{Patch: json.RawMessage(`[{"op":"add","path":"/x","value":` + deep + `}]`)})
	_, err = e.Commit(ctxT(t), "deep", syncd.Edit{Patch: json.RawMessage(`[{"op":"add","path":"/y","value":{"x":` + deep + `}}]`)})
	if ee := wantCode(t, err, syncd.CodeInvalid); ee.Limit != syncd.LimitDocDepth {
		t.Fatalf("257 levels refused with %v, want LimitDocDepth", err)
	}
}

// TestEditWorkLimit: an edit that keeps copying and removing a value stays
// within the size limit at every step but would walk the document over
// and over; it is refused once it has walked MaxPatchWork bytes (default
// 2 × MaxDocSize).
func TestEditWorkLimit(t *testing.T) {
	e, _ := open(t, syncd.Options{MaxDocSize: 1000})
	if e.MaxPatchWork() != 2000 {
		t.Fatalf("MaxPatchWork defaults to %d, want 2 × MaxDocSize", e.MaxPatchWork())
	}
	mustCommit(t, e, "d", merge(`{"s":"`+strings.Repeat("s", 400)+`"}`))
	// Each copy and each removal walks 402 bytes: refused at the fifth.
	loop := strings.Repeat(`{"op":"copy","from":"/s","path":"/t"},{"op":"remove","path":"/t"},`, 30)
	_, err := e.Commit(ctxT(t), "d", syncd.Edit{Patch: json.RawMessage("[" + strings.TrimSuffix(loop, ",") + "]")})
	if ee := wantCode(t, err, syncd.CodeInvalid); ee.Limit != syncd.LimitPatchWork {
		t.Fatalf("refusal %v: want LimitPatchWork", err)
	}
	// Replacing the whole document is well within it.
	mustCommit(t, e, "d", syncd.Edit{Patch: json.RawMessage(`[{"op":"replace","path":"","value":{"s":"short"}}]`)})
}
