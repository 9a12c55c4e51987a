package revision

import (
	"errors"
	"fmt"
)

// ReqID is a client's name for one of its edits. The server echoes it when
// the edit commits, which is how a client learns that its edit landed.
type ReqID = string

// MaxReqIDLength bounds a request id, so that watermarks stay small.
const MaxReqIDLength = 64

// ErrInvalidReqID is returned by [ValidateReqID].
var ErrInvalidReqID = errors.New("revision: invalid request id")

// ValidateReqID checks that id is 1–64 printable ASCII characters.
func ValidateReqID(id string) error {
	if len(id) == 0 || len(id) > MaxReqIDLength {
		return fmt.Errorf("%w: length %d, want 1–%d", ErrInvalidReqID, len(id), MaxReqIDLength)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return fmt.Errorf("%w: byte %d is not printable ASCII", ErrInvalidReqID, i)
		}
	}
	return nil
}

// CompareReqID orders request ids: a shorter id is smaller, and ids of equal
// length compare byte by byte. It returns -1, 0 or +1.
//
// For ULIDs, which all have 26 characters, this is their natural order, so
// ids from a monotonic ULID source increase. Comparing the length first also
// makes unpadded counters such as "req-9" < "req-10" increase, which is what
// simple clients (and the ws-kit seed's fixtures) send.
func CompareReqID(a, b string) int {
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Watermark is the highest request id that the server has decided (committed
// or refused) for one client in one document. The zero Watermark has decided
// nothing.
type Watermark struct {
	ReqID string
}

// Decided reports whether id is at or below the watermark, that is, whether
// the server has already decided it and must never apply it again.
func (w Watermark) Decided(id string) bool {
	return w.ReqID != "" && CompareReqID(id, w.ReqID) <= 0
}

// Advance returns the watermark after deciding id: the larger of the two.
func (w Watermark) Advance(id string) Watermark {
	if CompareReqID(id, w.ReqID) > 0 {
		return Watermark{ReqID: id}
	}
	return w
}
