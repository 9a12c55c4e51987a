package boltstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/storetest"
)

// TestCrashFaultFS is the crash test through a file layer that loses
// every unsynced write and tears the last one (faultfs_test.go): the
// proof that Commit acknowledges only what the log has synced, which a
// real kill (crash_test.go at the module's root) cannot give, since a
// killed process leaves its writes in the page cache. Each round commits
// random batches and crashes at a random moment: inside a log write
// (during an append, often one that starts a reused segment, since the
// segments here are tiny), or between commits while the applier works.
// The store is then reopened and must hold exactly what was
// acknowledged, plus or minus the batch whose write the crash cut.
func TestCrashFaultFS(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	fs := newFaultFS(seed)
	path := filepath.Join(t.TempDir(), "syncd.db")
	opts := Options{NoSync: true, LogSegmentBytes: 2 << 10, ApplyInterval: 200 * time.Microsecond, JournalOps: 17}
	m := newCrashModel()
	const rounds = 150
	var inWrite, between, acked, replayed, survived int
	// inflight is the batch whose log write the crash cut, with the
	// function that adds it to the model. Its Commit failed, but the
	// process "died" with it, so nobody was told: it may be in the store
	// or not. (A torn write can even leave a whole record, when the bytes
	// it did not write equal those already there.)
	var inflight func()
	check := func(s *Store) {
		t.Helper()
		err := m.check(s)
		if err != nil && inflight != nil {
			saved := maps.Clone(m.docs)
			inflight()
			if m.check(s) == nil {
				survived++
				err = nil
			} else {
				m.docs = saved
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		inflight = nil
	}
	for round := 0; round < rounds; round++ {
		s, err := openWith(path, opts, fs)
		if err != nil {
			t.Fatalf("round %d: open after a crash: %v", round, err)
		}
		replayed += s.replayed
		check(s)
		// The log syncs through the fault layer; bbolt need not (its
		// file is not the one under test, and a process crash keeps it).
		s.log.noSync = false
		commits := 1 + rng.IntN(60)
		if rng.IntN(3) > 0 {
			fs.mu.Lock()
			fs.crashAtWrite = fs.writes + 1 + rng.IntN(commits)
			fs.mu.Unlock()
		}
		crashed := false
		for i := 0; i < commits && !crashed; i++ {
			batch, apply := m.batch(rng)
			err := s.Commit(context.Background(), batch)
			switch {
			case err == nil:
				apply()
				acked++
			case errors.Is(err, errCrashed):
				crashed = true
				inWrite++
				inflight = apply
			default:
				t.Fatalf("round %d: commit: %v", round, err)
			}
		}
		if !crashed {
			between++
			fs.crash()
		}
		s.crashForTest()
	}
	s, err := openWith(path, opts, fs)
	if err != nil {
		t.Fatal(err)
	}
	replayed += s.replayed
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(path); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d crashes (%d inside a log write, %d between commits), %d acknowledged batches verified, %d log records replayed at reopens, %d cut batches found whole",
		rounds, inWrite, between, acked, replayed, survived)
	if inWrite == 0 || replayed == 0 {
		t.Fatal("no crash landed inside a write, or no reopen replayed the log: the test proved little")
	}
}

// crashModel is what the acknowledged batches say the store holds.
type crashModel struct {
	docs   map[string]*modelDoc
	epochs int
}

type modelDoc struct {
	epoch    revision.Epoch
	payloads []string // op r's payload is payloads[r-1]
	mark     string   // client "c"'s watermark
	snapRev  revision.Rev
}

func newCrashModel() *crashModel { return &crashModel{docs: make(map[string]*modelDoc)} }

// batch returns a random valid batch and the function that makes it part
// of the model once acknowledged.
func (m *crashModel) batch(rng *rand.Rand) ([]syncd.Record, func()) {
	var recs []syncd.Record
	changed := make(map[string]*modelDoc)
	view := func(doc string) *modelDoc {
		if d, ok := changed[doc]; ok {
			return d
		}
		d := m.docs[doc]
		if d != nil {
			c := *d
			c.payloads = append([]string(nil), d.payloads...)
			d = &c
		}
		changed[doc] = d
		return d
	}
	for range 1 + rng.IntN(3) {
		doc := fmt.Sprintf("doc-%d", rng.IntN(5))
		d := view(doc)
		switch r := rng.IntN(100); {
		case d == nil:
			m.epochs++
			d = &modelDoc{epoch: revision.Epoch(fmt.Sprintf("epoch-%d", m.epochs))}
			changed[doc] = d
			recs = append(recs, syncd.Record{Create: &syncd.CreateRecord{Doc: doc, Epoch: d.epoch, Time: 1}})
		case r < 80:
			for range 1 + rng.IntN(3) {
				rev := revision.Rev(len(d.payloads) + 1)
				payload := fmt.Sprintf(`{"%s":%d,"pad":"%0*d"}`, doc, rev, rng.IntN(200), 0)
				req := fmt.Sprintf("%08d", rev)
				d.payloads = append(d.payloads, payload)
				d.mark = revision.Watermark{ReqID: d.mark}.Advance(req).ReqID
				recs = append(recs, syncd.Record{Append: &syncd.AppendRecord{Doc: doc, Epoch: d.epoch, Op: &syncd.Op{
					Rev: rev, Kind: syncd.OpMerge, ClientID: "c", ClientReqID: req, Time: 2, Payload: []byte(payload),
				}}})
			}
		case r < 90:
			// Every op sets the same two keys, so the state is the
			// newest op's payload.
			d.snapRev = revision.Rev(len(d.payloads))
			state := `{}`
			if d.snapRev > 0 {
				state = d.payloads[d.snapRev-1]
			}
			recs = append(recs, syncd.Record{Snapshot: &syncd.SnapshotRecord{Doc: doc, Epoch: d.epoch, Rev: d.snapRev, State: []byte(state)}})
		case r < 96:
			// A refused request: the watermark moves without an op.
			req := fmt.Sprintf("%08d", len(d.payloads)) + "x"
			if d.mark < req {
				d.mark = revision.Watermark{ReqID: d.mark}.Advance(req).ReqID
			}
			recs = append(recs, syncd.Record{Decide: &syncd.DecideRecord{Doc: doc, ClientID: "c", ReqID: req}})
		default:
			changed[doc] = nil
			recs = append(recs, syncd.Record{Delete: &syncd.DeleteRecord{Doc: doc}})
		}
	}
	return recs, func() {
		for doc, d := range changed {
			if d == nil {
				delete(m.docs, doc)
			} else {
				m.docs[doc] = d
			}
		}
	}
}

// check reports whether s holds exactly what the model holds.
func (m *crashModel) check(s *Store) error {
	ctx := context.Background()
	if err := storetest.Check(ctx, s); err != nil {
		return fmt.Errorf("store invariants: %w", err)
	}
	metas, err := s.List(ctx, "", 100)
	if err != nil {
		return err
	}
	if len(metas) != len(m.docs) {
		return fmt.Errorf("the store lists %d documents, %d were acknowledged: %+v", len(metas), len(m.docs), metas)
	}
	for doc, d := range m.docs {
		sd, err := s.Load(ctx, doc)
		if err != nil {
			return fmt.Errorf("acknowledged %s: %w", doc, err)
		}
		if sd.Meta.Epoch != d.epoch || sd.Meta.Head != revision.Rev(len(d.payloads)) || sd.SnapshotRev != d.snapRev {
			return fmt.Errorf("%s: stored epoch %s head %d snapshot %d, acknowledged %s, %d, %d",
				doc, sd.Meta.Epoch, sd.Meta.Head, sd.SnapshotRev, d.epoch, len(d.payloads), d.snapRev)
		}
		ops, err := s.ReadOps(ctx, doc, d.epoch, 0, len(d.payloads)+1)
		if err != nil || len(ops) != len(d.payloads) {
			return fmt.Errorf("%s: read %d ops (%v), acknowledged %d", doc, len(ops), err, len(d.payloads))
		}
		for i, op := range ops {
			if string(op.Payload) != d.payloads[i] {
				return fmt.Errorf("%s@%d: stored %s, acknowledged %s", doc, i+1, op.Payload, d.payloads[i])
			}
		}
		w, err := s.Watermark(ctx, doc, "c")
		if err != nil || w.ReqID != d.mark {
			return fmt.Errorf("%s: watermark %q (%v), acknowledged %q", doc, w.ReqID, err, d.mark)
		}
	}
	return nil
}
