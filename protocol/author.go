package protocol

import (
	"crypto/sha256"
	"encoding/binary"
)

// AuthorID returns the public name of a client: the clientId that
// operations, presence and room messages show for it.
//
// Why not the client id itself: a client id is the key to its client's
// watermarks and to its one live connection. Whoever presents it at the
// upgrade is that client: it reads the client's watermarks, commits under
// its name (a request id of 64 × "~" makes every later edit of the real
// client "already decided"), and closes the real client's connection
// (4409). Without authentication nothing else tells two clients apart, so
// the client id must stay known only to its client, like a password, and
// everything other clients see carries this one-way digest of it instead.
// It is a pure function of the id, so every instance of a cluster (and
// every client) computes the same name without sharing any state.
//
// The result is SHA-256 of a fixed prefix and the id, cut to 128 bits and
// written as a ULID (26 Crockford base32 characters, upper case), so that
// it has the shape every clientId field has always had. Finding a client
// id from its author id means guessing the id: 80 random bits for a ULID
// made as the protocol asks.
func AuthorID(clientID string) string {
	h := sha256.New()
	h.Write([]byte("syncd author id\x00"))
	h.Write([]byte(clientID))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	hi := binary.BigEndian.Uint64(sum[:8])
	lo := binary.BigEndian.Uint64(sum[8:16])
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var out [26]byte
	// 26 characters of 5 bits hold 130 bits: the first holds the top 3
	// of the 128 (so it is at most "7", as in every ULID), each other 5.
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
