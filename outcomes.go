package syncd

import (
	"context"

	"github.com/deltasync/syncd/revision"
)

// addOutcomes puts the outcomes of the client's request ids at or below its
// watermark on the last event of a catch-up (PROTOCOL.md §6.8). It reads
// them from the store, not from memory: the catch-up has waited until every
// decision made before it was planned is durable (waitCompleted), so the
// store holds all of them, and the engine need not keep outcomes of every
// client of every loaded document in memory for the rare reconnect that
// needs them. Later decisions, above the watermark of the answer, are left
// out: the client learns them live.
func (e *Engine) addOutcomes(ctx context.Context, doc string, cu *catchUp, events []*Event) error {
	if cu.client == "" || cu.acked == "" || len(events) == 0 {
		return nil
	}
	outs, err := e.store.Outcomes(ctx, doc, cu.client)
	if err != nil {
		return storeError(doc, "outcomes read", err)
	}
	last := events[len(events)-1]
	last.Outcomes = revision.OutcomesUpTo(outs, cu.acked)
	return nil
}
