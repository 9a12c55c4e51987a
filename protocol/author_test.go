package protocol_test

import (
	"testing"

	"github.com/deltasync/syncd/protocol"
)

func TestAuthorID(t *testing.T) {
	const id = "01JD3M5Q8R2T4V6X8Z0A2C4E6G"
	a := protocol.AuthorID(id)
	if _, err := protocol.ParseClientID(a); err != nil {
		t.Fatalf("author id %q is not ULID-shaped: %v", a, err)
	}
	if a == id || protocol.AuthorID(id) != a {
		t.Fatalf("author id %q: not a stable digest of %q", a, id)
	}
	if protocol.AuthorID("01JD3M5Q8R2T4V6X8Z0A2C4E6H") == a {
		t.Fatal("two client ids share an author id")
	}
	// Pinned (computed independently, with Python's hashlib), so that
	// every version and every instance of a cluster agree.
	if want := "3B74RGSW7P5PD3MN9S7431PQJA"; a != want {
		t.Errorf("AuthorID(%s) = %s, want %s", id, a, want)
	}
}
