package client

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/protocol"
)

// TestSupersede: the members of a merge patch that later writes set again
// are taken out of it; what later writes only shape (an object member, a
// member set inside) keeps the parts they do not touch.
func TestSupersede(t *testing.T) {
	merge := func(s string) []write { return writesOf(json.RawMessage(s), true) }
	patch := func(s string) []write { return writesOf(json.RawMessage(s), false) }
	cases := []struct {
		name, raw string
		later     []write
		want      string // "" = nothing left
	}{
		{"no later edit", `{"a":1}`, nil, `{"a":1}`},
		{"one member set again", `{"a":1,"b":2}`, merge(`{"a":3}`), `{"b":2}`},
		{"every member set again", `{"t":"a"}`, merge(`{"t":"ab"}`), ""},
		{"removed later (null)", `{"a":1,"b":2}`, merge(`{"b":null}`), `{"a":1}`},
		{"a nested member", `{"a":{"b":1,"c":2}}`, merge(`{"a":{"b":3}}`), `{"a":{"c":2}}`},
		{"all nested members", `{"a":{"b":1}}`, merge(`{"a":{"b":3}}`), ""},
		{"a scalar made an object later", `{"a":5,"z":1}`, merge(`{"a":{"b":3}}`), `{"z":1}`},
		{"an object member kept when later only shapes it", `{"a":{"x":1}}`, merge(`{"a":{}}`), `{"a":{"x":1}}`},
		{"an ancestor replaced by a JSON Patch", `{"a":{"b":1},"c":1}`, patch(`[{"op":"replace","path":"/a","value":{}}]`), `{"c":1}`},
		{"the whole document replaced", `{"a":1}`, patch(`[{"op":"replace","path":"","value":{}}]`), ""},
		{"escaped pointer tokens", `{"a/b":1,"m~n":2,"k":3}`, patch(`[{"op":"remove","path":"/a~1b"},{"op":"add","path":"/m~0n","value":0}]`), `{"k":3}`},
		{"a move's source and target", `{"s":1,"d":2,"k":3}`, patch(`[{"op":"move","from":"/s","path":"/d"}]`), `{"k":3}`},
		{"a test writes nothing", `{"a":1}`, patch(`[{"op":"test","path":"/a","value":1}]`), `{"a":1}`},
		{"a sibling untouched", `{"a":{"b":1}}`, merge(`{"ab":2}`), `{"a":{"b":1}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, left := supersede(json.RawMessage(tc.raw), tc.later)
			if tc.want == "" {
				if left {
					t.Fatalf("supersede(%s) = %s, want nothing left", tc.raw, got)
				}
				return
			}
			if !left || !jsonEqual(t, got, tc.want) {
				t.Fatalf("supersede(%s) = %s (left %v), want %s", tc.raw, got, left, tc.want)
			}
		})
	}
}

func jsonEqual(t *testing.T, a json.RawMessage, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// supersedeDoc is a joined document with a client whose rejections are
// collected and which is never connected (sends go nowhere).
type supersedeDoc struct {
	c       *Client
	d       *Doc
	mu      sync.Mutex
	rejects []Rejection
}

func newSupersedeDoc(t *testing.T) *supersedeDoc {
	c := unconnectedClient(t)
	s := &supersedeDoc{c: c}
	s.d = &Doc{c: c, id: "d", epoch: "01JD3KZ9X4B7N2Q5T8W1Y3C6F0", changed: make(chan struct{}), live: true, rev: 4, hasPos: true, confirmed: map[string]any{}}
	s.d.onReject = []func(Rejection){func(r Rejection) {
		s.mu.Lock()
		s.rejects = append(s.rejects, r)
		s.mu.Unlock()
	}}
	return s
}

// edit adds a sent edit, as Doc.edit and flushLocked would.
func (s *supersedeDoc) edit(t *testing.T, raw string, merge bool) *edit {
	t.Helper()
	var p *delta.Patch
	var err error
	if merge {
		p, err = delta.ParseMergePatch([]byte(raw))
	} else {
		p, err = delta.ParseJSONPatch([]byte(raw))
	}
	if err != nil {
		t.Fatal(err)
	}
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.d.editSeq++
	e := &edit{id: s.c.newReqID(), seq: s.d.editSeq, raw: json.RawMessage(raw), patch: p, merge: merge, sent: true, baseRev: 4, epoch: s.d.epoch}
	s.d.pending = append(s.d.pending, e)
	return e
}

func (s *supersedeDoc) refuse(e *edit) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.d.refusedLocked(e.id, &protocol.ErrorPayload{Code: protocol.CodeAborted, Message: "test", Details: json.RawMessage(`{"doc":"d","clientReqId":"` + e.id + `","serverRev":4}`)})
}

func (s *supersedeDoc) rejected() []Rejection {
	done := make(chan struct{})
	s.c.ev.push(func() { close(done) })
	<-done
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rejection(nil), s.rejects...)
}

// TestReissueSupersededByLaterEdits: a refused edit re-issued after its
// client's later edits went through must not overwrite them. A title typed
// "a", "ab", "abc", whose first edit is refused (retryable) after the
// others were sent, ends as "abc": the first is dropped and reported
// SUPERSEDED, whether the later edit is still pending or already
// acknowledged; a member no later edit sets is still re-issued; a JSON
// Patch is re-issued as it is.
func TestReissueSupersededByLaterEdits(t *testing.T) {
	t.Run("later edit pending", func(t *testing.T) {
		s := newSupersedeDoc(t)
		first := s.edit(t, `{"title":"a","x":1}`, true)
		s.edit(t, `{"title":"ab"}`, true)
		firstID := first.id
		s.refuse(first)
		s.c.mu.Lock()
		if first.id == firstID || string(first.raw) != `{"x":1}` {
			s.c.mu.Unlock()
			t.Fatalf("re-issued as %s under %s: want {\"x\":1} under a new id", first.raw, first.id)
		}
		s.c.mu.Unlock()

		second := s.edit(t, `{"x":2}`, true)
		s.refuse(first)
		rej := s.rejected()
		if len(rej) != 1 || rej[0].Code != CodeSuperseded {
			t.Fatalf("rejections %+v: want the first edit %s", rej, CodeSuperseded)
		}
		s.c.mu.Lock()
		defer s.c.mu.Unlock()
		if len(s.d.pending) != 2 || s.d.pending[1] != second {
			t.Fatalf("pending %d edits, want the two later ones", len(s.d.pending))
		}
	})
	t.Run("later edit acknowledged", func(t *testing.T) {
		s := newSupersedeDoc(t)
		first := s.edit(t, `{"title":"a"}`, true)
		second := s.edit(t, `{"title":"ab"}`, true)
		s.c.mu.Lock()
		s.d.ackLocked(second.id)
		s.c.mu.Unlock()
		s.refuse(first)
		if rej := s.rejected(); len(rej) != 1 || rej[0].Code != CodeSuperseded {
			t.Fatalf("rejections %+v: want the first edit %s", rej, CodeSuperseded)
		}
	})
	t.Run("JSON Patch re-issued as it is", func(t *testing.T) {
		s := newSupersedeDoc(t)
		first := s.edit(t, `[{"op":"add","path":"/list/-","value":1}]`, false)
		s.edit(t, `{"list":[]}`, true)
		raw := string(first.raw)
		s.refuse(first)
		if rej := s.rejected(); len(rej) != 0 {
			t.Fatalf("rejections %+v", rej)
		}
		s.c.mu.Lock()
		defer s.c.mu.Unlock()
		if string(first.raw) != raw || first.sent && first.retries != 1 {
			t.Fatalf("re-issued as %s, want %s", first.raw, raw)
		}
	})
	t.Run("an earlier edit does not supersede", func(t *testing.T) {
		s := newSupersedeDoc(t)
		s.edit(t, `{"title":"a"}`, true)
		second := s.edit(t, `{"title":"ab"}`, true)
		s.refuse(second)
		if rej := s.rejected(); len(rej) != 0 {
			t.Fatalf("rejections %+v: the later edit must be re-issued", rej)
		}
	})
}
