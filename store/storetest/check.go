package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/revision"
)

// Check verifies the invariants of every document in s, as seen through
// the Store interface alone, and returns every violation it finds (nil if
// none):
//
//   - List returns ids in strictly increasing order, and the same metadata
//     as Load;
//   - 1 ≤ First ≤ SnapshotRev+1 and SnapshotRev ≤ Head: the newest snapshot
//     plus the log always rebuild the head;
//   - ReadOps from First-1 returns First … Head, each op with the revision
//     of its position, page after page, then nothing; the op before First
//     is ErrGone, and another epoch is ErrNotFound;
//   - Load's tail is SnapshotRev+1 … Head, the same ops ReadOps returns;
//   - the snapshot plus its tail replays (with package delta) to a JSON
//     object, and when the log still starts at revision 1, replaying the
//     whole log from the empty object gives the snapshot and the same head.
//
// The suite runs Check after every subtest; a store's own tests, or the
// engine's, may call it on any store that no one writes to meanwhile.
func Check(ctx context.Context, s syncd.Store) error {
	_, err := checkAll(ctx, s)
	return err
}

// checkAll is Check that also returns the head state of each document.
func checkAll(ctx context.Context, s syncd.Store) (map[string]any, error) {
	metas, err := listAll(ctx, s, 7)
	if err != nil {
		return nil, err
	}
	states := make(map[string]any, len(metas))
	var errs []error
	for _, m := range metas {
		st, err := checkDoc(ctx, s, m)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %q: %w", m.Doc, err))
			continue
		}
		states[m.Doc] = st
	}
	return states, errors.Join(errs...)
}

// listAll lists every document, page by page, checking the order.
func listAll(ctx context.Context, s syncd.Store, page int) ([]syncd.DocMeta, error) {
	var all []syncd.DocMeta
	after := ""
	for {
		metas, err := s.List(ctx, after, page)
		if err != nil {
			return nil, fmt.Errorf("List(%q, %d): %w", after, page, err)
		}
		if len(metas) > page {
			return nil, fmt.Errorf("List(%q, %d) returned %d documents", after, page, len(metas))
		}
		for _, m := range metas {
			if m.Doc <= after {
				return nil, fmt.Errorf("List(%q, %d) returned %q out of order", after, page, m.Doc)
			}
			after = m.Doc
		}
		all = append(all, metas...)
		if len(metas) < page {
			return all, nil
		}
	}
}

// checkDoc checks one document whose List metadata is m and returns its
// state at the head, replayed from the snapshot and tail.
func checkDoc(ctx context.Context, s syncd.Store, m syncd.DocMeta) (any, error) {
	sd, err := s.Load(ctx, m.Doc)
	if err != nil {
		return nil, fmt.Errorf("Load: %w", err)
	}
	meta := sd.Meta
	if meta != m {
		return nil, fmt.Errorf("Load's meta %+v differs from List's %+v", meta, m)
	}
	if meta.First == 0 || meta.First > meta.Head+1 {
		return nil, fmt.Errorf("First %d outside 1…Head+1 (Head %d)", meta.First, meta.Head)
	}
	if sd.SnapshotRev > meta.Head {
		return nil, fmt.Errorf("snapshot at %d beyond the head %d", sd.SnapshotRev, meta.Head)
	}
	if meta.First > sd.SnapshotRev+1 {
		return nil, fmt.Errorf("log starts at %d, after the snapshot at %d: the head cannot be rebuilt", meta.First, sd.SnapshotRev)
	}
	if err := contiguous(sd.Tail, sd.SnapshotRev, meta.Head); err != nil {
		return nil, fmt.Errorf("Load's tail: %w", err)
	}

	// The whole log, read in small pages so that paging is exercised.
	var log []*syncd.Op
	after := meta.First - 1
	for {
		ops, err := s.ReadOps(ctx, m.Doc, meta.Epoch, after, 5)
		if err != nil {
			return nil, fmt.Errorf("ReadOps(after %d): %w", after, err)
		}
		if len(ops) == 0 {
			break
		}
		if len(ops) > 5 {
			return nil, fmt.Errorf("ReadOps(after %d, limit 5) returned %d ops", after, len(ops))
		}
		log = append(log, ops...)
		after += revision.Rev(len(ops))
		if after > meta.Head {
			break // contiguous below reports it
		}
	}
	if err := contiguous(log, meta.First-1, meta.Head); err != nil {
		return nil, fmt.Errorf("ReadOps over the log: %w", err)
	}
	for i, op := range sd.Tail {
		if !opEqual(op, log[sd.SnapshotRev+1-meta.First+revision.Rev(i)]) {
			return nil, fmt.Errorf("op %d differs between Load and ReadOps", op.Rev)
		}
	}
	if meta.First > 1 {
		if _, err := s.ReadOps(ctx, m.Doc, meta.Epoch, meta.First-2, 1); !errors.Is(err, syncd.ErrGone) {
			return nil, fmt.Errorf("ReadOps(after %d) before the log's start %d: got %v, want ErrGone", meta.First-2, meta.First, err)
		}
	}
	if _, err := s.ReadOps(ctx, m.Doc, otherEpoch(meta.Epoch), meta.First-1, 1); !errors.Is(err, syncd.ErrNotFound) {
		return nil, fmt.Errorf("ReadOps with another epoch: got %v, want ErrNotFound", err)
	}

	// Replay: the snapshot plus its tail is the head.
	head, err := replay(sd.SnapshotState, sd.Tail)
	if err != nil {
		return nil, fmt.Errorf("replaying the snapshot at %d and its tail: %w", sd.SnapshotRev, err)
	}
	if _, ok := head.(map[string]any); !ok {
		return nil, fmt.Errorf("the head state is a %T, not a JSON object", head)
	}
	if meta.First == 1 {
		// The log is whole: it must rebuild the snapshot, then the head.
		atSnap, err := replay(nil, log[:sd.SnapshotRev])
		if err != nil {
			return nil, fmt.Errorf("replaying the log from revision 1: %w", err)
		}
		snap, err := decodeState(sd.SnapshotState)
		if err != nil {
			return nil, err
		}
		if !delta.Equal(atSnap, snap) {
			return nil, fmt.Errorf("the snapshot at %d is not the log replayed to %d:\n snapshot %s\n log      %s", sd.SnapshotRev, sd.SnapshotRev, sd.SnapshotState, mustJSON(atSnap))
		}
	}
	return head, nil
}

// contiguous checks that ops are exactly after+1 … head, in order.
func contiguous(ops []*syncd.Op, after, head revision.Rev) error {
	if uint64(len(ops)) != uint64(head-after) {
		return fmt.Errorf("%d ops after %d, want %d (head %d)", len(ops), after, head-after, head)
	}
	for i, op := range ops {
		if op == nil {
			return fmt.Errorf("nil op at position %d", i)
		}
		if want := after + 1 + revision.Rev(i); op.Rev != want {
			return fmt.Errorf("op at position %d has rev %d, want %d", i, op.Rev, want)
		}
	}
	return nil
}

// replay applies ops to the decoded snapshot state (nil: the empty object).
func replay(snapshot []byte, ops []*syncd.Op) (any, error) {
	state, err := decodeState(snapshot)
	if err != nil {
		return nil, err
	}
	for _, op := range ops {
		if err := applyOp(&state, op); err != nil {
			return nil, err
		}
	}
	return state, nil
}

func decodeState(snapshot []byte) (any, error) {
	if snapshot == nil {
		return map[string]any{}, nil
	}
	v, err := delta.Decode(snapshot)
	if err != nil {
		return nil, fmt.Errorf("snapshot state: %w", err)
	}
	return v, nil
}

// otherEpoch returns an epoch that is not e.
func otherEpoch(e revision.Epoch) revision.Epoch {
	if e == "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" {
		return "00000000000000000000000000"
	}
	return "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
}

// compareModel checks that s holds what the model says: the same set of
// documents, each with its epoch, head, times, newest snapshot, ops, head
// state and watermarks. states are the head states Check replayed.
func compareModel(ctx context.Context, s syncd.Store, md *model, states map[string]any) error {
	var errs []error
	metas, err := listAll(ctx, s, 50)
	if err != nil {
		return err
	}
	listed := make(map[string]bool, len(metas))
	for _, m := range metas {
		listed[m.Doc] = true
		if md.docs[m.Doc] == nil {
			errs = append(errs, fmt.Errorf("document %q is in the store but was never created (or was deleted)", m.Doc))
		}
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range md.docs {
			if !yield(id) {
				return
			}
		}
	})
	for _, id := range ids {
		if err := compareDoc(ctx, s, id, md.docs[id], listed[id], states); err != nil {
			errs = append(errs, fmt.Errorf("document %q: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func compareDoc(ctx context.Context, s syncd.Store, id string, d *modelDoc, listed bool, states map[string]any) error {
	if !listed {
		return errors.New("missing from List")
	}
	sd, err := s.Load(ctx, id)
	if err != nil {
		return fmt.Errorf("Load: %w", err)
	}
	want := syncd.DocMeta{Doc: id, Epoch: d.epoch, Head: d.head(), First: sd.Meta.First, Created: d.created, Updated: d.updated}
	if sd.Meta != want {
		return fmt.Errorf("meta %+v, want %+v (First not compared)", sd.Meta, want)
	}
	if !d.hasSnap && sd.Meta.First != 1 {
		return fmt.Errorf("log starts at %d with no snapshot ever written", sd.Meta.First)
	}
	if sd.SnapshotRev != d.snapRev {
		return fmt.Errorf("snapshot at %d, want the newest written, at %d", sd.SnapshotRev, d.snapRev)
	}
	if head, ok := states[id]; !ok || !delta.Equal(head, d.state) {
		return fmt.Errorf("snapshot + tail replays to %s, want %s", mustJSON(head), mustJSON(d.state))
	}
	if sd.Meta.First <= d.head() {
		ops, err := s.ReadOps(ctx, id, d.epoch, sd.Meta.First-1, len(d.ops))
		if err != nil {
			return fmt.Errorf("ReadOps: %w", err)
		}
		for _, op := range ops {
			if !opEqual(op, d.ops[op.Rev-1]) {
				return fmt.Errorf("op %d is %+v, want %+v", op.Rev, op, d.ops[op.Rev-1])
			}
		}
	}
	for client, w := range d.marks {
		got, err := s.Watermark(ctx, id, client)
		if err != nil {
			return fmt.Errorf("Watermark(%q): %w", client, err)
		}
		if got != w {
			return fmt.Errorf("watermark of %q is %q, want %q", client, got.ReqID, w.ReqID)
		}
		outs, err := s.Outcomes(ctx, id, client)
		if err != nil {
			return fmt.Errorf("Outcomes(%q): %w", client, err)
		}
		if want := d.outcomes[client]; !slices.Equal(outs, want) {
			return fmt.Errorf("outcomes of %q are %+v, want %+v", client, outs, want)
		}
	}
	if got, err := s.Watermark(ctx, id, "storetest-no-such-client"); err != nil || got != (revision.Watermark{}) {
		return fmt.Errorf("watermark of an unknown client: %q, %v; want zero, nil", got.ReqID, err)
	}
	return nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}
