package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// The multi-writer cases: what a syncd.SharedStore promises beyond the
// Store contract, checked through two handles on one backend, as two
// engines on two machines would use it.
//
// A shared store runs Run's cases too, with two differences the harness
// makes by itself when the store implements syncd.SharedStore:
// BatchIsAtomic checks atomicity per document (the failing document's
// records are refused, the others' applied, and the error is a
// *syncd.PartialCommitError naming it), and RandomBatches gives each
// append a request id of its own (a shared store refuses the same client
// request appended twice as a duplicate).

// SharedOpener returns two handles on one new, empty shared store: two
// writers' views of one backend (for natsstore, two Stores on one stream,
// through connections to different servers). The suite closes both.
type SharedOpener func(t *testing.T) (a, b syncd.SharedStore)

// RunShared runs the multi-writer cases, each on a fresh pair of handles.
func RunShared(t *testing.T, open SharedOpener) {
	for _, c := range sharedCases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newPair(t, open)) })
	}
}

var sharedCases = []struct {
	name string
	fn   func(t *testing.T, p *pair)
}{
	{"RacingAppends", testRacingAppends},
	{"DuplicateRequest", testDuplicateRequest},
	{"HeadSeesOther", testHeadSeesOther},
	{"WatchSeesOther", testWatchSeesOther},
	{"WatchTellsWhatWasStored", testWatchTellsWhatWasStored},
	{"CreateRace", testCreateRace},
	{"DeleteRecreateRace", testDeleteRecreateRace},
	{"PartialCommit", testPartialCommit},
	{"StaleHandleCatchesUp", testStaleHandleCatchesUp},
	{"StaleAbsentDeleteAndDecide", testStaleAbsentDeleteAndDecide},
	{"StaleSnapshotOfDeleted", testStaleSnapshotOfDeleted},
}

// pair is one multi-writer subtest's two handles.
type pair struct {
	t      *testing.T
	ctx    context.Context
	a, b   syncd.SharedStore
	epochs int
	clock  int64
}

func newPair(t *testing.T, open SharedOpener) *pair {
	p := &pair{t: t, ctx: context.Background(), clock: 1_700_000_000_000}
	p.a, p.b = open(t)
	t.Cleanup(func() {
		// The invariants hold whoever wrote; both handles see the same.
		ctx := context.Background()
		if err := Check(ctx, p.a); err != nil {
			t.Errorf("store invariants broken after the test (through a):\n%v", err)
		}
		if err := Check(ctx, p.b); err != nil {
			t.Errorf("store invariants broken after the test (through b):\n%v", err)
		}
		for _, s := range []syncd.Store{p.a, p.b} {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
	return p
}

func (p *pair) newEpoch() revision.Epoch {
	p.epochs++
	return revision.Epoch(fmt.Sprintf("01S%023d", p.epochs))
}

func (p *pair) create(doc string, e revision.Epoch) syncd.Record {
	p.clock++
	return syncd.Record{Create: &syncd.CreateRecord{Doc: doc, Epoch: e, Time: p.clock}}
}

func (p *pair) appendOp(doc string, e revision.Epoch, rev revision.Rev, client, req string) syncd.Record {
	p.clock++
	return syncd.Record{Append: &syncd.AppendRecord{Doc: doc, Epoch: e, Op: &syncd.Op{
		Rev: rev, Kind: syncd.OpMerge, Payload: fmt.Appendf(nil, `{"by":%q,"rev":%d}`, client, rev),
		ClientID: client, ClientReqID: req, Time: p.clock,
	}}}
}

func (p *pair) refuse(doc, client, req string) syncd.Record {
	return syncd.Record{Decide: &syncd.DecideRecord{Doc: doc, ClientID: client, ReqID: req, Code: "invalid"}}
}

func (p *pair) commit(s syncd.Store, recs ...syncd.Record) error {
	return s.Commit(p.ctx, recs)
}

func (p *pair) mustCommit(s syncd.Store, recs ...syncd.Record) {
	p.t.Helper()
	if err := p.commit(s, recs...); err != nil {
		p.t.Fatalf("Commit: %v", err)
	}
}

func (p *pair) load(s syncd.Store, doc string) *syncd.StoredDoc {
	p.t.Helper()
	sd, err := s.Load(p.ctx, doc)
	if err != nil {
		p.t.Fatalf("Load(%q): %v", doc, err)
	}
	return sd
}

// race commits ra through a and rb through b at once and returns their
// errors.
func (p *pair) race(ra, rb []syncd.Record) (ea, eb error) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	wg.Go(func() { <-start; ea = p.commit(p.a, ra...) })
	wg.Go(func() { <-start; eb = p.commit(p.b, rb...) })
	close(start)
	wg.Wait()
	return ea, eb
}

// raceOneWins races ra through a against rb through b, checks that
// exactly one succeeded and the other was a conflict, and returns 0 if a
// won, 1 if b did.
func (p *pair) raceOneWins(what string, ra, rb []syncd.Record) int {
	p.t.Helper()
	ea, eb := p.race(ra, rb)
	switch {
	case ea == nil && eb == nil:
		p.t.Fatalf("%s: both writers succeeded", what)
	case ea != nil && eb != nil:
		p.t.Fatalf("%s: both failed: %v; %v", what, ea, eb)
	case ea == nil && !errors.Is(eb, syncd.ErrConflict):
		p.t.Fatalf("%s: the loser's error %v is not ErrConflict", what, eb)
	case eb == nil && !errors.Is(ea, syncd.ErrConflict):
		p.t.Fatalf("%s: the loser's error %v is not ErrConflict", what, ea)
	}
	if ea == nil {
		return 0
	}
	return 1
}

// testRacingAppends: both writers append the same revision at once, round
// after round: exactly one wins each, the loser gets ErrConflict, and the
// log holds the winner's operation and nothing of the loser's.
func testRacingAppends(t *testing.T, p *pair) {
	e := p.newEpoch()
	p.mustCommit(p.a, p.create("doc", e))
	for rev := revision.Rev(1); rev <= 20; rev++ {
		req := fmt.Sprintf("r-%d", rev)
		w := p.raceOneWins(fmt.Sprintf("rev %d", rev),
			[]syncd.Record{p.appendOp("doc", e, rev, "ca", req)},
			[]syncd.Record{p.appendOp("doc", e, rev, "cb", req)})
		winner := []string{"ca", "cb"}[w]
		for i, s := range []syncd.Store{p.a, p.b} {
			sd := p.load(s, "doc")
			if sd.Meta.Head != rev || len(sd.Tail) == 0 || sd.Tail[len(sd.Tail)-1].ClientID != winner {
				t.Fatalf("handle %d after rev %d: head %d, tail %v; want the winner %s's op at %d", i, rev, sd.Meta.Head, revs(sd.Tail), winner, rev)
			}
		}
	}
}

// testDuplicateRequest: a client request stored through one handle is a
// conflict when the other handle, knowing the head, decides it again, as
// an operation or as a refusal, and so is any request of that client at or
// below its watermark: a writer whose engine decided from a copy behind
// the log must learn of the decision, not add a second one (the client
// would be told "refused" of an edit another instance applied).
func testDuplicateRequest(t *testing.T, p *pair) {
	e := p.newEpoch()
	p.mustCommit(p.a, p.create("doc", e), p.appendOp("doc", e, 1, "c1", "r-7"))
	// b knows the head and the client's watermark: its checks, not only
	// the log's condition on the last message, must catch what follows.
	p.load(p.b, "doc")
	if _, err := p.b.Watermark(p.ctx, "doc", "c1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		rec  syncd.Record
	}{
		{"the same client request appended again", p.appendOp("doc", e, 2, "c1", "r-7")},
		{"an earlier request of the client appended", p.appendOp("doc", e, 2, "c1", "r-6")},
		{"the same client request refused", p.refuse("doc", "c1", "r-7")},
		{"an earlier request of the client refused", p.refuse("doc", "c1", "r-6")},
	} {
		if err := p.commit(p.b, c.rec); !errors.Is(err, syncd.ErrConflict) {
			t.Fatalf("%s through the other handle: %v, want ErrConflict", c.what, err)
		}
	}
	for _, s := range []syncd.SharedStore{p.a, p.b} {
		if _, head, err := s.Head(p.ctx, "doc"); err != nil || head != 1 {
			t.Fatalf("Head after the duplicates: %d, %v; want 1", head, err)
		}
		outs, err := s.Outcomes(p.ctx, "doc", "c1")
		if err != nil || len(outs) != 1 || outs[0] != (revision.Outcome{ReqID: "r-7", Rev: 1}) {
			t.Fatalf("Outcomes after the duplicates: %v, %v; want r-7 at 1 alone", outs, err)
		}
	}
	// A new request goes on, as an operation or as a refusal.
	p.mustCommit(p.b, p.appendOp("doc", e, 2, "c1", "r-8"))
	p.mustCommit(p.b, p.refuse("doc", "c1", "r-9"))
}

// testHeadSeesOther: Head and the client reads through one handle see the
// other's commits at once.
func testHeadSeesOther(t *testing.T, p *pair) {
	if _, _, err := p.b.Head(p.ctx, "doc"); !errors.Is(err, syncd.ErrNotFound) {
		t.Fatalf("Head of an absent document: %v, want ErrNotFound", err)
	}
	e := p.newEpoch()
	p.mustCommit(p.a, p.create("doc", e))
	for rev := revision.Rev(1); rev <= 3; rev++ {
		p.mustCommit(p.a, p.appendOp("doc", e, rev, "c1", fmt.Sprintf("r-%d", rev)))
		epoch, head, err := p.b.Head(p.ctx, "doc")
		if err != nil || epoch != e || head != rev {
			t.Fatalf("b.Head after a's commit of %d: %s@%d, %v", rev, epoch, head, err)
		}
		if w, err := p.b.Watermark(p.ctx, "doc", "c1"); err != nil || w.ReqID != fmt.Sprintf("r-%d", rev) {
			t.Fatalf("b.Watermark after a's commit of %d: %q, %v", rev, w.ReqID, err)
		}
		if outs, err := p.b.Outcomes(p.ctx, "doc", "c1"); err != nil || len(outs) != int(rev) || outs[rev-1].Rev != rev {
			t.Fatalf("b.Outcomes after a's commit of %d: %+v, %v", rev, outs, err)
		}
	}
	p.mustCommit(p.a, syncd.Record{Delete: &syncd.DeleteRecord{Doc: "doc"}})
	if _, _, err := p.b.Head(p.ctx, "doc"); !errors.Is(err, syncd.ErrNotFound) {
		t.Fatalf("b.Head after a deleted the document: %v, want ErrNotFound", err)
	}
}

// testWatchSeesOther: a watch through one handle is told of the other's
// commits, and of its own.
func testWatchSeesOther(t *testing.T, p *pair) {
	told := make(chan struct{}, 1)
	stop := p.b.Watch("doc", func(syncd.StoredChange) {
		select {
		case told <- struct{}{}:
		default:
		}
	})
	defer stop()
	e := p.newEpoch()
	wait := func(what string) {
		t.Helper()
		select {
		case <-told:
		case <-time.After(10 * time.Second):
			t.Fatalf("the watch was not told of %s", what)
		}
	}
	p.mustCommit(p.a, p.create("doc", e), p.appendOp("doc", e, 1, "c1", "r-1"))
	wait("a's create")
	for rev := revision.Rev(2); rev <= 4; rev++ {
		// Empty the channel, then commit: the next call is for this one
		// (or spurious, which the contract allows, and is then followed
		// by the one for this commit).
		select {
		case <-told:
		default:
		}
		p.mustCommit(p.a, p.appendOp("doc", e, rev, "c1", fmt.Sprintf("r-%d", rev)))
		wait(fmt.Sprintf("a's commit of %d", rev))
	}
	select {
	case <-told:
	default:
	}
	p.load(p.b, "doc")
	p.mustCommit(p.b, p.appendOp("doc", e, 5, "c2", "r-1"))
	wait("b's own commit")
}

// testWatchTellsWhatWasStored: what a watch passes is true. A change told
// as Complete holds operations of the epoch, in order, each as it was
// committed (a store may tell less, never something else); the calls
// that tell of a create and of a delete are not Complete.
func testWatchTellsWhatWasStored(t *testing.T, p *pair) {
	calls := make(chan syncd.StoredChange, 64)
	stop := p.b.Watch("doc", func(c syncd.StoredChange) {
		select {
		case calls <- c:
		default:
			t.Error("more calls than the test expects")
		}
	})
	defer stop()
	next := func(what string) syncd.StoredChange {
		t.Helper()
		select {
		case c := <-calls:
			return c
		case <-time.After(10 * time.Second):
			t.Fatalf("the watch was not told of %s", what)
			return syncd.StoredChange{}
		}
	}
	e := p.newEpoch()
	p.mustCommit(p.a, p.create("doc", e))
	if c := next("the create"); c.Complete {
		t.Fatalf("the create was told as Complete, with %d operations", len(c.Ops))
	}
	committed := map[revision.Rev]*syncd.Op{}
	commit := func(s syncd.Store, recs ...syncd.Record) {
		for _, r := range recs {
			if r.Append != nil {
				committed[r.Append.Op.Rev] = r.Append.Op
			}
		}
		p.mustCommit(s, recs...)
	}
	commit(p.a, p.appendOp("doc", e, 1, "c1", "r-1"))
	commit(p.a, p.appendOp("doc", e, 2, "c1", "r-2"), p.appendOp("doc", e, 3, "c1", "r-3"))
	commit(p.a, syncd.Record{Decide: &syncd.DecideRecord{Doc: "doc", ClientID: "c1", ReqID: "r-4", Code: "REFUSED"}})
	p.load(p.b, "doc")
	commit(p.b, p.appendOp("doc", e, 4, "c2", "r-1"))
	p.mustCommit(p.b, syncd.Record{Delete: &syncd.DeleteRecord{Doc: "doc"}})
	for deleted := false; !deleted; {
		c := next("the delete")
		if !c.Complete {
			deleted = true // or a store that tells nothing exactly; either is allowed
			continue
		}
		for i, op := range c.Ops {
			want := committed[op.Rev]
			switch {
			case c.Epoch != e:
				t.Fatalf("told operations of epoch %s, want %s", c.Epoch, e)
			case i > 0 && op.Rev != c.Ops[i-1].Rev+1:
				t.Fatalf("told revisions %d then %d", c.Ops[i-1].Rev, op.Rev)
			case want == nil:
				t.Fatalf("told revision %d, which nobody committed", op.Rev)
			case op.Kind != want.Kind || string(op.Payload) != string(want.Payload) || op.ClientID != want.ClientID || op.ClientReqID != want.ClientReqID || op.Time != want.Time:
				t.Fatalf("told %+v at revision %d, committed %+v", *op, op.Rev, *want)
			}
		}
	}
}

// testCreateRace: two writers create one id at once: one epoch wins and
// both handles agree on it.
func testCreateRace(t *testing.T, p *pair) {
	for i := range 5 {
		doc := fmt.Sprintf("doc-%d", i)
		ea, eb := p.newEpoch(), p.newEpoch()
		w := p.raceOneWins("create "+doc, []syncd.Record{p.create(doc, ea)}, []syncd.Record{p.create(doc, eb)})
		want := []revision.Epoch{ea, eb}[w]
		for _, s := range []syncd.Store{p.a, p.b} {
			if sd := p.load(s, doc); sd.Meta.Epoch != want || sd.Meta.Head != 0 {
				t.Fatalf("%s: %+v, want the winner's epoch %s at 0", doc, sd.Meta, want)
			}
		}
	}
}

// testDeleteRecreateRace: two writers delete and re-create one document at
// once: one new epoch wins, and the loser, once it has reloaded, appends
// to it.
func testDeleteRecreateRace(t *testing.T, p *pair) {
	e := p.newEpoch()
	p.mustCommit(p.a, p.create("doc", e), p.appendOp("doc", e, 1, "c1", "r-1"), p.appendOp("doc", e, 2, "c1", "r-2"))
	p.load(p.b, "doc")
	del := syncd.Record{Delete: &syncd.DeleteRecord{Doc: "doc"}}
	ea, eb := p.newEpoch(), p.newEpoch()
	w := p.raceOneWins("delete and re-create",
		[]syncd.Record{del, p.create("doc", ea)},
		[]syncd.Record{del, p.create("doc", eb)})
	want := []revision.Epoch{ea, eb}[w]
	for _, s := range []syncd.SharedStore{p.a, p.b} {
		if sd := p.load(s, "doc"); sd.Meta.Epoch != want || sd.Meta.Head != 0 || len(sd.Tail) != 0 {
			t.Fatalf("after the race: %+v tail %v, want the winner's epoch %s at 0", sd.Meta, revs(sd.Tail), want)
		}
		if w, err := s.Watermark(p.ctx, "doc", "c1"); err != nil || w.ReqID != "" {
			t.Fatalf("a watermark of the old epoch survived: %q, %v", w.ReqID, err)
		}
	}
	loser := []syncd.SharedStore{p.b, p.a}[w]
	p.mustCommit(loser, p.appendOp("doc", want, 1, "c2", "r-1"))
	// An append to the old epoch is a conflict everywhere.
	if err := p.commit(p.a, p.appendOp("doc", e, 3, "c1", "r-3")); !errors.Is(err, syncd.ErrConflict) {
		t.Fatalf("an append to the deleted epoch: %v, want ErrConflict", err)
	}
}

// testPartialCommit: a batch whose records for one document conflict with
// the other writer's fails for that document alone.
func testPartialCommit(t *testing.T, p *pair) {
	ex, ey := p.newEpoch(), p.newEpoch()
	p.mustCommit(p.a, p.create("x", ex), p.create("y", ey))
	p.load(p.b, "y")
	p.mustCommit(p.b, p.appendOp("y", ey, 1, "cb", "r-1"))
	err := p.commit(p.a, p.appendOp("x", ex, 1, "ca", "r-1"), p.appendOp("y", ey, 1, "ca", "r-2"))
	var pe *syncd.PartialCommitError
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || pe.Failed["y"] == nil || !errors.Is(pe.Failed["y"], syncd.ErrConflict) {
		t.Fatalf("Commit: %v; want a PartialCommitError naming y alone, with ErrConflict", err)
	}
	if _, head, err := p.b.Head(p.ctx, "x"); err != nil || head != 1 {
		t.Fatalf("x after the partial commit: head %d, %v; want 1", head, err)
	}
	if sd := p.load(p.a, "y"); sd.Meta.Head != 1 || sd.Tail[0].ClientID != "cb" {
		t.Fatalf("y after the partial commit: %+v, want b's op alone", sd.Meta)
	}
}

// testStaleHandleCatchesUp: a handle whose view is old still commits the
// right revision (the engine learnt it from Head), and refuses a wrong
// one.
func testStaleHandleCatchesUp(t *testing.T, p *pair) {
	e := p.newEpoch()
	p.mustCommit(p.a, p.create("doc", e))
	p.load(p.b, "doc")
	for rev := revision.Rev(1); rev <= 3; rev++ {
		p.mustCommit(p.a, p.appendOp("doc", e, rev, "ca", fmt.Sprintf("r-%d", rev)))
	}
	if err := p.commit(p.b, p.appendOp("doc", e, 2, "cb", "r-1")); !errors.Is(err, syncd.ErrConflict) {
		t.Fatalf("b appending a revision a already wrote: %v, want ErrConflict", err)
	}
	if _, head, err := p.b.Head(p.ctx, "doc"); err != nil || head != 3 {
		t.Fatalf("b.Head: %d, %v", head, err)
	}
	p.mustCommit(p.b, p.appendOp("doc", e, 4, "cb", "r-1"))
	if sd := p.load(p.a, "doc"); sd.Meta.Head != 4 {
		t.Fatalf("a sees head %d, want 4", sd.Meta.Head)
	}
}

// testStaleAbsentDeleteAndDecide: a handle that last saw a document absent
// must not take a Delete or a Decide of it for a no-op once another writer
// has created it: the Delete must delete what exists when it is
// committed, and the Decide must be recorded (or be a conflict), or a
// later append of the same client request would be applied although its
// refusal was acknowledged.
func testStaleAbsentDeleteAndDecide(t *testing.T, p *pair) {
	if _, err := p.a.Load(p.ctx, "doc"); !errors.Is(err, syncd.ErrNotFound) {
		t.Fatalf("a.Load of a new document: %v, want ErrNotFound", err)
	}
	if _, err := p.a.Load(p.ctx, "doc2"); !errors.Is(err, syncd.ErrNotFound) {
		t.Fatalf("a.Load of a new document: %v, want ErrNotFound", err)
	}
	e := p.newEpoch()
	p.mustCommit(p.b, p.create("doc", e))
	e2 := p.newEpoch()
	p.mustCommit(p.b, p.create("doc2", e2))

	// a decides client c's request r-1 in doc2, which exists by now.
	errDecide := p.commit(p.a, p.refuse("doc2", "c", "r-1"))
	// a deletes doc, which exists by now.
	errDelete := p.commit(p.a, syncd.Record{Delete: &syncd.DeleteRecord{Doc: "doc"}})

	if errDelete == nil {
		if sd, err := p.b.Load(p.ctx, "doc"); err == nil {
			t.Errorf("a's Delete of doc returned nil, but doc still exists (epoch %s, head %d)", sd.Meta.Epoch, sd.Meta.Head)
		}
	} else if !errors.Is(errDelete, syncd.ErrConflict) {
		t.Errorf("a's Delete: %v", errDelete)
	}
	if errDecide == nil {
		if w, err := p.b.Watermark(p.ctx, "doc2", "c"); err != nil || w.ReqID != "r-1" {
			t.Errorf("a's Decide of c's r-1 in doc2 returned nil, but the watermark is %q (%v)", w.ReqID, err)
		}
		if err := p.commit(p.b, p.appendOp("doc2", e2, 1, "c", "r-1")); err == nil {
			t.Errorf("c's r-1 was refused (a's Decide acknowledged), then applied by b")
		}
	} else if !errors.Is(errDecide, syncd.ErrConflict) {
		t.Errorf("a's Decide: %v", errDecide)
	}
}

// testStaleSnapshotOfDeleted: a Snapshot of a document another writer has
// deleted is ErrConflict (the Store contract), even through a handle that
// last saw the document exist.
func testStaleSnapshotOfDeleted(t *testing.T, p *pair) {
	e := p.newEpoch()
	p.mustCommit(p.a, p.create("doc", e), p.appendOp("doc", e, 1, "c", "r-1"))
	p.load(p.a, "doc")
	p.mustCommit(p.b, syncd.Record{Delete: &syncd.DeleteRecord{Doc: "doc"}})
	err := p.commit(p.a, syncd.Record{Snapshot: &syncd.SnapshotRecord{Doc: "doc", Epoch: e, Rev: 1, State: []byte(`{"by":"c","rev":1}`)}})
	if !errors.Is(err, syncd.ErrConflict) {
		t.Fatalf("a's Snapshot of doc, deleted by b: %v, want ErrConflict", err)
	}
}
