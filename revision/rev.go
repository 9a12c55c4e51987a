package revision

import (
	"fmt"
	"strconv"
)

// Rev is the number of an operation in a document's history. Revision 0 is
// the empty document; the first operation has revision 1. Revisions of one
// epoch are contiguous: a document at revision n has exactly the operations
// 1…n.
type Rev uint64

// Next returns the revision after r.
func (r Rev) Next() Rev { return r + 1 }

// String formats r in decimal.
func (r Rev) String() string { return strconv.FormatUint(uint64(r), 10) }

// ParseRev parses a decimal revision as written by [Rev.String].
func ParseRev(s string) (Rev, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("revision: invalid revision %q", s)
	}
	return Rev(n), nil
}

// Position is a point in a document's history: a revision within an epoch.
// The zero Position (no epoch) means "nothing known", which is what a client
// that has never seen the document presents.
type Position struct {
	Epoch Epoch
	Rev   Rev
}

// Known reports whether p names a point in some history.
func (p Position) Known() bool { return p.Epoch != "" }

// SameHistory reports whether p and q belong to the same history, so that
// their revisions may be compared.
func (p Position) SameHistory(q Position) bool { return p.Epoch == q.Epoch && p.Epoch != "" }

// String formats p as "epoch@rev".
func (p Position) String() string { return string(p.Epoch) + "@" + p.Rev.String() }
