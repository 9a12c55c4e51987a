package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// Options are what a subtest asks of the store it opens.
type Options struct {
	// Retention is the number of operations per document the store should
	// keep (each store has an option of that name); 0 means the store's
	// default. Only the retention subtests set it, to a small number.
	Retention int
}

// Opener returns a new, empty store configured with o. It reports a
// failure to open with t.Fatal. The suite closes the store it returns (after
// checking it), so Opener must not close it in a t.Cleanup of its own; it
// may register cleanups that run after the close, such as t.TempDir's or a
// check of the store's files.
type Opener func(t *testing.T, o Options) syncd.Store

// Reopener closes old and opens the same data again with o, as a process
// restart would. The suite does not use old afterwards.
type Reopener func(t *testing.T, old syncd.Store, o Options) syncd.Store

// Run runs the conformance suite against the stores open returns: one
// subtest per clause of the syncd.Store contract, each on a fresh store,
// each followed by [Check] and by a comparison with the suite's model of
// what the store must hold.
func Run(t *testing.T, open Opener) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open) })
	}
}

// RunPersistent runs [Run] and then the subtests that need the store's
// data to survive a reopen.
func RunPersistent(t *testing.T, open Opener, reopen Reopener) {
	Run(t, open)
	for _, c := range persistentCases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open, reopen) })
	}
}

// cases are the subtests of Run, one per clause of the contract.
var cases = []testCase{
	{"CreateLoad", testCreateLoad},
	{"LoadAbsent", testLoadAbsent},
	{"CreateExisting", testCreateExisting},
	{"EmptyBatch", testEmptyBatch},
	{"AppendContiguous", testAppendContiguous},
	{"OpsKeptIntact", testOpsKeptIntact},
	{"AppendConflict", testAppendConflict},
	{"BatchIsAtomic", testBatchIsAtomic},
	{"MalformedRecord", testMalformedRecord},
	{"BatchSeesEarlierRecords", testBatchSeesEarlierRecords},
	{"ReadOps", testReadOps},
	{"WatermarkByAppend", testWatermarkByAppend},
	{"WatermarkByDecide", testWatermarkByDecide},
	{"WatermarkNeverDecreases", testWatermarkNeverDecreases},
	{"WatermarkPerDocAndClient", testWatermarkPerDocAndClient},
	{"DecideAbsentDoc", testDecideAbsentDoc},
	{"SnapshotAndTail", testSnapshotAndTail},
	{"SnapshotKeepsNewest", testSnapshotKeepsNewest},
	{"SnapshotConflict", testSnapshotConflict},
	{"SnapshotStateCopied", testSnapshotStateCopied},
	{"RetentionTrims", testRetentionTrims},
	{"RetentionKeepsSnapshotTail", testRetentionKeepsSnapshotTail},
	{"Delete", testDelete},
	{"DeleteAbsent", testDeleteAbsent},
	{"RecreateNewEpoch", testRecreateNewEpoch},
	{"List", testList},
	{"ConcurrentReaders", testConcurrentReaders},
	{"RandomBatches", testRandomBatches},
	{"Clients", testClients},
	{"SideStore", testSideStore},
}

type testCase struct {
	name string
	fn   func(t *testing.T, open Opener)
}

type persistentCase struct {
	name string
	fn   func(t *testing.T, open Opener, reopen Reopener)
}

// tb is the part of testing.T (and of rapid.T) the harness uses.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
}

// harness is one subtest's store, its model, and helpers to build batches.
type harness struct {
	t    tb
	ctx  context.Context
	s    syncd.Store
	opts Options
	// shared: the store is a syncd.SharedStore, whose Commit is atomic
	// per document (a batch's model fails document by document) and which
	// refuses a record of a request already decided (model.shared).
	shared bool
	model  *model
	// clock gives ops and creates increasing, recognisable times.
	clock int64
	// epochs counts the epochs handed out, to make each one new.
	epochs int
}

// newHarness opens a store and arranges for it to be checked, compared with
// the model, and closed when the test ends.
func newHarness(t *testing.T, open Opener, o Options) *harness {
	t.Helper()
	h := &harness{t: t, ctx: context.Background(), opts: o, model: newModel(), clock: 1_700_000_000_000}
	h.use(open(t, o))
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx := context.Background()
		states, err := checkAll(ctx, h.s)
		if err != nil {
			t.Errorf("store invariants broken after the test:\n%v", err)
		} else if err := compareModel(ctx, h.s, h.model, states); err != nil {
			t.Errorf("store differs from the model after the test:\n%v", err)
		}
		if err := h.s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// reopen restarts the store on the same data.
func (h *harness) reopen(t *testing.T, reopen Reopener) {
	t.Helper()
	h.use(reopen(t, h.s, h.opts))
}

// use makes s the harness's store and notes, for the harness and its
// model, whether it is shared.
func (h *harness) use(s syncd.Store) {
	h.s = s
	_, h.shared = s.(syncd.SharedStore)
	h.model.shared = h.shared
}

// newEpoch returns an epoch (a ULID-shaped string) not used before in the
// subtest.
func (h *harness) newEpoch() revision.Epoch {
	h.epochs++
	return revision.Epoch(fmt.Sprintf("01J%023d", h.epochs))
}

func (h *harness) now() int64 {
	h.clock++
	return h.clock
}

// batch starts a batch built against a copy of the model: each helper adds
// a record and applies it to the copy, so later records see earlier ones
// just as the store must.
func (h *harness) batch() *batch {
	return &batch{h: h, m: h.model.clone()}
}

type batch struct {
	h    *harness
	m    *model
	recs []syncd.Record
	// fail is the first model error: the store must refuse the batch.
	fail error
	// failDocs, for a shared store, are the documents whose records the
	// store must refuse (with ErrConflict) while it applies the others'.
	failDocs map[string]error
}

// add appends rec and applies it to the batch's model.
func (b *batch) add(rec syncd.Record) *batch {
	b.h.t.Helper()
	b.recs = append(b.recs, rec)
	if b.fail != nil {
		return b
	}
	doc := rec.Doc()
	if b.h.shared && b.failDocs[doc] != nil {
		return b // the document's records fail together
	}
	if err := b.m.apply(rec); err != nil {
		switch {
		case !errors.Is(err, errModelConflict) && !errors.Is(err, errModelMalformed):
			b.h.t.Fatal(err)
		case b.h.shared && errors.Is(err, errModelConflict):
			// Atomic per document: this document keeps what it had
			// before the batch, the others go on.
			if b.failDocs == nil {
				b.failDocs = make(map[string]error)
			}
			b.failDocs[doc] = err
			if d := b.h.model.docs[doc]; d != nil {
				b.m.docs[doc] = d.clone()
			} else {
				delete(b.m.docs, doc)
			}
		default:
			b.fail = err
		}
	}
	return b
}

func (b *batch) create(doc string) *batch {
	return b.add(syncd.Record{Create: &syncd.CreateRecord{Doc: doc, Epoch: b.h.newEpoch(), Time: b.h.now()}})
}

// merge appends a merge-patch op at the document's next revision.
func (b *batch) merge(doc string, patch string) *batch {
	return b.op(doc, syncd.OpMerge, patch, "", "")
}

// mergeN appends n merge-patch ops that each set a few keys.
func (b *batch) mergeN(doc string, n int) *batch {
	for range n {
		r := b.next(doc)
		b.merge(doc, fmt.Sprintf(`{"n":%d,"k%d":%d}`, r, r%7, r))
	}
	return b
}

// op appends an op of the given kind at the document's next revision in
// the batch's model, with the given client ids.
func (b *batch) op(doc string, kind syncd.OpKind, payload, client, req string) *batch {
	return b.add(syncd.Record{Append: &syncd.AppendRecord{Doc: doc, Epoch: b.epoch(doc), Op: &syncd.Op{
		Rev: b.next(doc), Kind: kind, Payload: []byte(payload),
		ClientID: client, ClientReqID: req, Time: b.h.now(),
	}}})
}

// snapshot adds a snapshot of doc at its current head in the batch, with
// the state the model computed.
func (b *batch) snapshot(doc string) *batch {
	d := b.m.docs[doc]
	if d == nil {
		b.h.t.Fatalf("storetest bug: snapshot of %q, which the model does not have", doc)
	}
	return b.add(syncd.Record{Snapshot: &syncd.SnapshotRecord{Doc: doc, Epoch: d.epoch, Rev: d.head(), State: d.stateJSON()}})
}

func (b *batch) decide(doc, client, req string) *batch {
	return b.add(syncd.Record{Decide: &syncd.DecideRecord{Doc: doc, ClientID: client, ReqID: req}})
}

func (b *batch) delete(doc string) *batch {
	return b.add(syncd.Record{Delete: &syncd.DeleteRecord{Doc: doc}})
}

// epoch and next are doc's epoch and next revision in the batch's model
// (zero values for a document the model does not have).
func (b *batch) epoch(doc string) revision.Epoch {
	if d := b.m.docs[doc]; d != nil {
		return d.epoch
	}
	return ""
}

func (b *batch) next(doc string) revision.Rev {
	if d := b.m.docs[doc]; d != nil {
		return d.head() + 1
	}
	return 1
}

// commit commits the batch and checks the store's answer against the
// model's prediction: success (and then the model moves on), or an error
// (wrapping ErrConflict when the model predicted a conflict).
func (b *batch) commit() error {
	b.h.t.Helper()
	err := b.h.s.Commit(b.h.ctx, b.recs)
	if b.fail == nil && len(b.failDocs) > 0 {
		b.checkPartial(err)
		b.h.model = b.m
		return err
	}
	switch {
	case b.fail == nil && err != nil:
		b.h.t.Fatalf("Commit of a valid batch: %v", err)
	case b.fail == nil:
		b.h.model = b.m
	case err == nil:
		b.h.t.Fatalf("Commit succeeded; want an error (%v)", b.fail)
	case errors.Is(b.fail, errModelConflict) && !errors.Is(err, syncd.ErrConflict):
		b.h.t.Fatalf("Commit error %v does not wrap ErrConflict", err)
	case errors.Is(b.fail, errModelMalformed) && errors.Is(err, syncd.ErrConflict):
		b.h.t.Fatalf("Commit of a malformed record: %v; a malformed record is not a conflict", err)
	}
	return err
}

// checkPartial checks a shared store's answer to a batch that must fail
// for the documents in b.failDocs only.
func (b *batch) checkPartial(err error) {
	b.h.t.Helper()
	var pe *syncd.PartialCommitError
	if !errors.As(err, &pe) {
		b.h.t.Fatalf("Commit: %v; want a *syncd.PartialCommitError naming %v", err, sortedDocs(b.failDocs))
	}
	if !slices.Equal(sortedDocs(pe.Failed), sortedDocs(b.failDocs)) {
		b.h.t.Fatalf("Commit failed for %v, want %v (%v)", sortedDocs(pe.Failed), sortedDocs(b.failDocs), err)
	}
	for doc, e := range pe.Failed {
		if !errors.Is(e, syncd.ErrConflict) {
			b.h.t.Fatalf("Commit's error for %q: %v; want ErrConflict", doc, e)
		}
	}
}

func sortedDocs(m map[string]error) []string {
	return slices.Sorted(maps.Keys(m))
}

// mustCommit commits a batch the model accepts.
func (b *batch) mustCommit() {
	b.h.t.Helper()
	if b.fail != nil || len(b.failDocs) > 0 {
		b.h.t.Fatalf("storetest bug: the model refuses this batch: %v", b.fail)
	}
	_ = b.commit()
}

// mustFail commits a batch the model refuses.
func (b *batch) mustFail() error {
	b.h.t.Helper()
	if b.fail == nil && len(b.failDocs) == 0 {
		b.h.t.Fatal("storetest bug: the model accepts this batch")
	}
	return b.commit()
}

// load is Load that fails the test on error.
func (h *harness) load(doc string) *syncd.StoredDoc {
	h.t.Helper()
	sd, err := h.s.Load(h.ctx, doc)
	if err != nil {
		h.t.Fatalf("Load(%q): %v", doc, err)
	}
	return sd
}

func (h *harness) watermark(doc, client string) string {
	h.t.Helper()
	w, err := h.s.Watermark(h.ctx, doc, client)
	if err != nil {
		h.t.Fatalf("Watermark(%q, %q): %v", doc, client, err)
	}
	return w.ReqID
}

func (h *harness) readOps(doc string, epoch revision.Epoch, after revision.Rev, limit int) ([]*syncd.Op, error) {
	return h.s.ReadOps(h.ctx, doc, epoch, after, limit)
}

func (h *harness) epochOf(doc string) revision.Epoch {
	if d := h.model.docs[doc]; d != nil {
		return d.epoch
	}
	h.t.Fatalf("storetest bug: no document %q in the model", doc)
	return ""
}

// revs lists the revisions of ops, for compact failure messages.
func revs(ops []*syncd.Op) []revision.Rev {
	out := make([]revision.Rev, len(ops))
	for i, op := range ops {
		out[i] = op.Rev
	}
	return out
}
