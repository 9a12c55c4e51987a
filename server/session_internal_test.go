package server

import (
	"testing"
)

// The joined documents: the first is kept without a map, the others in one,
// and every operation sees them the same way.
func TestSessionDocs(t *testing.T) {
	s := &session{}
	a, b, c := &joined{doc: "a"}, &joined{doc: "b"}, &joined{doc: "c"}
	s.setDocLocked(a)
	if s.docs != nil || s.docLocked("a") != a || s.countDocsLocked() != 1 {
		t.Fatalf("one document: one=%v docs=%v", s.one, s.docs)
	}
	s.setDocLocked(b)
	s.setDocLocked(c)
	if s.countDocsLocked() != 3 || s.docLocked("b") != b || s.docLocked("c") != c || s.docLocked("x") != nil {
		t.Fatalf("three documents: one=%v docs=%v", s.one, s.docs)
	}
	a2 := &joined{doc: "a"}
	s.setDocLocked(a2) // a rejoin (or resync) replaces the record
	if s.docLocked("a") != a2 || s.countDocsLocked() != 3 {
		t.Fatalf("replace: one=%v docs=%v", s.one, s.docs)
	}
	s.deleteDocLocked("a")
	if s.docLocked("a") != nil || s.countDocsLocked() != 2 {
		t.Fatalf("delete: one=%v docs=%v", s.one, s.docs)
	}
	b2 := &joined{doc: "b"}
	s.setDocLocked(b2) // b is in the map: it stays there, never twice
	if s.docLocked("b") != b2 || s.countDocsLocked() != 2 {
		t.Fatalf("replace in map: one=%v docs=%v", s.one, s.docs)
	}
	s.deleteDocLocked("b")
	s.deleteDocLocked("c")
	s.deleteDocLocked("c")
	if s.countDocsLocked() != 0 {
		t.Fatalf("empty: one=%v docs=%v", s.one, s.docs)
	}
}
