package syncd

import (
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
// Combining follows delta.Compact, so a combined operation has exactly the
// effect of the ones it replaces; merge patches that cannot be composed
// into one, and a merge patch next to a JSON Patch, stay separate.

// compactOps returns ops with every run of consecutive operations not by
// client combined where delta.Compact can combine them. Operations it
// leaves alone are shared with ops; combined ones are new. ops must be
// consecutive revisions, as committed. An error (a payload that does not
// parse, which committed operations never have) leaves nothing compacted.
func compactOps(ops []*Op, client string) ([]*Op, error) {
	out := make([]*Op, 0, len(ops))
	var c delta.Compactor
	for i := 0; i < len(ops); {
		if client != "" && ops[i].ClientID == client {
			out = append(out, ops[i])
			i++
			continue
		}
		j := i
		for j < len(ops) && (client == "" || ops[j].ClientID != client) {
			j++
		}
		run := ops[i:j]
		if len(run) == 1 {
			out = append(out, run[0])
			i = j
			continue
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
				continue
			}
			payload, err := r.AppendJSON(nil)
			if err != nil {
				return nil, err
			}
			out = append(out, &Op{Rev: last.Rev, FirstRev: first.Rev, Kind: last.Kind, Payload: payload, Time: last.Time})
		}
		i = j
	}
	return out, nil
}

// patchKind maps an operation's kind to delta's.
func patchKind(k OpKind) delta.Kind {
	if k == OpMerge {
		return delta.MergePatch
	}
	return delta.JSONPatch
}
