package memstore

import (
	"context"
	"maps"
	"slices"

	"github.com/deltasync/syncd/revision"
)

// Outcomes implements [syncd.Store.Outcomes].
func (s *Store) Outcomes(ctx context.Context, doc, clientID string) ([]revision.Outcome, error) {
	d, err := s.lookup(ctx, doc)
	if err != nil || d == nil {
		return nil, err
	}
	// Committed documents are immutable, and a commit never appends into a
	// slice it shares (addOutcome clones first): the clone is for the
	// caller, who may keep it.
	return slices.Clone(d.outcomes[clientID]), nil
}

// addOutcome records o among client's outcomes, copying what the clone
// shares with the committed document first.
func (d *document) addOutcome(client string, o revision.Outcome) {
	if !d.outcomesOwned {
		d.outcomes = maps.Clone(d.outcomes)
		d.outcomesOwned = true
	}
	if d.outcomes == nil {
		d.outcomes = make(map[string][]revision.Outcome)
	}
	// Clone the client's slice too: revision.AddOutcome may append into
	// its array, which the committed document still reads.
	d.outcomes[client] = revision.AddOutcome(slices.Clip(d.outcomes[client]), o)
}
