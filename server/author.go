package server

import "github.com/deltasync/syncd/protocol"

// authorOf is what the wire shows for a client id: its author id
// ([protocol.AuthorID]), never the id itself, which is the client's key to
// its watermarks and its connection (PROTOCOL.md §2.2). Operations without
// an author (the HTTP API's, an embedder's) stay without one.
func authorOf(clientID string) string {
	if clientID == "" {
		return ""
	}
	return protocol.AuthorID(clientID)
}

// authorsOf maps authorOf over ids, in a new slice (nil for none).
func authorsOf(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = authorOf(id)
	}
	return out
}
