package revision

import (
	"errors"
	"fmt"
)

// Epoch names one history of a document: a ULID in its canonical text form
// (26 characters of Crockford base32, upper case). Epochs are compared for
// equality only; their time component tells when the history began.
//
// The engine generates epochs; this package only validates them, so that it
// needs nothing beyond the standard library.
type Epoch string

// ULIDLength is the length of a ULID in text form.
const ULIDLength = 26

// ErrInvalidEpoch is returned by [ParseEpoch] for text that is not a ULID.
var ErrInvalidEpoch = errors.New("revision: epoch is not a ULID")

// ParseEpoch validates s as a ULID and returns it in canonical (upper-case)
// form. Lower-case input is accepted, as the ULID specification allows.
func ParseEpoch(s string) (Epoch, error) {
	canon, ok := canonicalULID(s)
	if !ok {
		if len(s) > 40 {
			s = s[:40] + "…" // an error echoes input: keep it short
		}
		return "", fmt.Errorf("%w: %q", ErrInvalidEpoch, s)
	}
	return Epoch(canon), nil
}

// IsULID reports whether s is a ULID in text form, in either case.
func IsULID(s string) bool {
	_, ok := canonicalULID(s)
	return ok
}

// canonicalULID upper-cases s and checks that it is 26 Crockford base32
// characters whose first character is at most '7' (a ULID is 128 bits; 26
// base32 characters hold 130, so the top two must be zero). The letters I, L,
// O and U are not part of the alphabet.
func canonicalULID(s string) (string, bool) {
	if len(s) != ULIDLength {
		return "", false
	}
	var buf [ULIDLength]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		switch {
		case c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U':
		default:
			return "", false
		}
		buf[i] = c
	}
	if buf[0] > '7' {
		return "", false
	}
	return string(buf[:]), true
}
