package syncd

import (
	"errors"

	"github.com/deltasync/syncd/delta"
)

// Catch-up compaction. A client many revisions behind needs their effect,
// not their history: the runs of consecutive operations that are not its
// own can travel as one combined operation each (Op.FirstRev), which for a
// document whose members are edited over and over is much smaller than the
// operations one by one. The client's own operations stay separate and as
// committed, because they are how it learns which of its pending edits
// committed (PROTOCOL.md §6.8). Only catch-ups are compacted: live
// subscribers get every operation as committed.
//
// A combined operation has exactly the effect of the ones it replaces. A
// run of merge patches is composed newest first by delta.ComposeMerge,
// which copies the values no later patch overrode as they were committed;
// runs it cannot compose into one (JSON Patches, a merge patch that
// replaces the whole document, a member that a later patch merges an
// object into after an earlier one made it a non-object) go to
// delta.Compactor, which concatenates JSON Patches and keeps merge patches
// that do not compose separate.

// compactOps returns ops with every run of consecutive operations not by
// client combined where that is possible. Operations it leaves alone are
// shared with ops; combined ones are new. ops must be consecutive
// revisions, as committed. An error (a payload that does not parse, which
// committed operations never have) leaves nothing compacted.
//
// limit > 0 bounds the result's size (Op.EncodedSize summed): once it is
// sure to be over, compactOps stops and returns nil, so that a catch-up
// that will send a snapshot anyway does not finish composing first.
func compactOps(ops []*Op, client string, limit int) ([]*Op, error) {
	out := make([]*Op, 0, len(ops))
	size := 0
	over := func() bool { return limit > 0 && size > limit }
	var c delta.Compactor
	for i := 0; i < len(ops); {
		if client != "" && ops[i].ClientID == client {
			out = append(out, ops[i])
			size += ops[i].EncodedSize()
			if over() {
				return nil, nil
			}
			i++
			continue
		}
		j := i
		for j < len(ops) && (client == "" || ops[j].ClientID != client) {
			j++
		}
		run := ops[i:j]
		i = j
		if len(run) == 1 {
			out = append(out, run[0])
			size += run[0].EncodedSize()
			if over() {
				return nil, nil
			}
			continue
		}
		budget := 0 // for the run's payloads; 0: no limit
		if limit > 0 {
			if budget = limit - size - opOverhead - firstRevOverhead; budget <= 0 {
				return nil, nil
			}
		}
		switch op, err := composeMerges(run, budget); {
		case errors.Is(err, delta.ErrOverLimit):
			return nil, nil
		case err != nil:
			return nil, err
		case op != nil:
			out = append(out, op)
			size += op.EncodedSize()
			continue
		}
		// The Compactor shrinks merge patches only: the JSON Patches of
		// the run are a size it cannot go below.
		floor := 0
		for _, op := range run {
			if op.Kind != OpMerge {
				floor += len(op.Payload)
			}
		}
		if budget != 0 && floor > budget {
			return nil, nil
		}
		for _, op := range run {
			if err := c.AddJSON(patchKind(op.Kind), op.Payload); err != nil {
				return nil, err
			}
		}
		k := 0
		for _, r := range c.Runs() {
			first, last := run[k], run[k+r.N-1]
			k += r.N
			if r.N == 1 {
				out = append(out, first)
				size += first.EncodedSize()
				continue
			}
			payload, err := r.AppendJSON(nil)
			if err != nil {
				return nil, err
			}
			op := &Op{Rev: last.Rev, FirstRev: first.Rev, Kind: last.Kind, Payload: payload, Time: last.Time}
			out = append(out, op)
			size += op.EncodedSize()
		}
		if over() {
			return nil, nil
		}
	}
	return out, nil
}

// composeMerges combines run into one operation with delta.ComposeMerge
// when it is all merge patches that compose into one, and returns nil when
// it is not; limit as delta.ComposeMerge's, for the payload.
func composeMerges(run []*Op, limit int) (*Op, error) {
	payloads := make([][]byte, len(run))
	for i, op := range run {
		if op.Kind != OpMerge {
			return nil, nil
		}
		payloads[i] = op.Payload
	}
	payload, ok, err := delta.ComposeMerge(nil, payloads, limit)
	if !ok || err != nil {
		return nil, err
	}
	first, last := run[0], run[len(run)-1]
	return &Op{Rev: last.Rev, FirstRev: first.Rev, Kind: OpMerge, Payload: payload, Time: last.Time}, nil
}

// patchKind maps an operation's kind to delta's.
func patchKind(k OpKind) delta.Kind {
	if k == OpMerge {
		return delta.MergePatch
	}
	return delta.JSONPatch
}
