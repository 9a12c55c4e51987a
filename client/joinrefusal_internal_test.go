package client

import (
	"testing"

	"github.com/deltasync/syncd/protocol"
)

// TestOverDocsPerConnByLimit: the one retryable JOIN refusal that a timer
// cannot mend is told by details.limit (PROTOCOL.md §6.11), not by the
// message; the creation rate and a full server stay retried.
func TestOverDocsPerConnByLimit(t *testing.T) {
	for _, c := range []struct {
		p    protocol.ErrorPayload
		want bool
	}{
		{protocol.ErrorPayload{Code: protocol.CodeResourceExhausted, Details: []byte(`{"doc":"d","limit":"maxDocsPerConnection"}`)}, true},
		{protocol.ErrorPayload{Code: protocol.CodeResourceExhausted, Message: "a connection may join at most 2 documents", Details: []byte(`{"doc":"d"}`)}, false},
		{protocol.ErrorPayload{Code: protocol.CodeResourceExhausted, Message: "too many new documents", Details: []byte(`{"doc":"d"}`)}, false},
		{protocol.ErrorPayload{Code: protocol.CodeUnavailable, Details: []byte(`{"limit":"maxDocsPerConnection"}`)}, false},
		{protocol.ErrorPayload{Code: protocol.CodeResourceExhausted, Details: []byte(`[1]`)}, false},
	} {
		if got := overDocsPerConn(&c.p); got != c.want {
			t.Errorf("%s %s: %v, want %v", c.p.Code, c.p.Details, got, c.want)
		}
	}
}
