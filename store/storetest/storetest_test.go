package storetest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/memstore"
	"github.com/deltasync/syncd/store/storetest"
)

// fill commits a document whose snapshot and log agree: 3 merge patches and
// a snapshot at 2 holding the true state there.
func fill(t *testing.T, s syncd.Store) {
	t.Helper()
	const epoch = revision.Epoch("01J00000000000000000000001")
	op := func(rev revision.Rev, payload string) syncd.Record {
		return syncd.Record{Append: &syncd.AppendRecord{Doc: "doc", Epoch: epoch, Op: &syncd.Op{Rev: rev, Kind: syncd.OpMerge, Payload: []byte(payload)}}}
	}
	err := s.Commit(context.Background(), []syncd.Record{
		{Create: &syncd.CreateRecord{Doc: "doc", Epoch: epoch}},
		op(1, `{"a":1}`),
		op(2, `{"b":2}`),
		{Snapshot: &syncd.SnapshotRecord{Doc: "doc", Epoch: epoch, Rev: 2, State: []byte(`{"b":2,"a":1}`)}},
		op(3, `{"a":null}`),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheckAcceptsAGoodStore(t *testing.T) {
	s := memstore.New(memstore.Options{})
	fill(t, s)
	if err := storetest.Check(context.Background(), s); err != nil {
		t.Fatalf("Check of a sound store: %v", err)
	}
}

// corrupt wraps a sound store and damages what Load returns.
type corrupt struct {
	syncd.Store
	damage func(sd *syncd.StoredDoc)
}

func (c corrupt) Load(ctx context.Context, doc string) (*syncd.StoredDoc, error) {
	sd, err := c.Store.Load(ctx, doc)
	if err == nil {
		c.damage(sd)
	}
	return sd, err
}

// skipping wraps a sound store and drops an op from ReadOps's answers.
type skipping struct{ syncd.Store }

func (s skipping) ReadOps(ctx context.Context, doc string, epoch revision.Epoch, after revision.Rev, limit int) ([]*syncd.Op, error) {
	ops, err := s.Store.ReadOps(ctx, doc, epoch, after, limit)
	if len(ops) > 1 {
		ops = append(ops[:1:1], ops[2:]...)
	}
	return ops, err
}

func TestCheckCatchesCorruption(t *testing.T) {
	cases := []struct {
		name string
		wrap func(syncd.Store) syncd.Store
		want string
	}{
		{"SnapshotNotTheLog", func(s syncd.Store) syncd.Store {
			return corrupt{s, func(sd *syncd.StoredDoc) { sd.SnapshotState = []byte(`{"a":1,"b":3}`) }}
		}, "is not the log replayed"},
		{"SnapshotNotJSON", func(s syncd.Store) syncd.Store {
			return corrupt{s, func(sd *syncd.StoredDoc) { sd.SnapshotState = []byte(`{"a":`) }}
		}, "snapshot state"},
		{"TailWithGap", func(s syncd.Store) syncd.Store {
			return corrupt{s, func(sd *syncd.StoredDoc) { sd.Tail = nil }}
		}, "tail"},
		{"TailRevMismatch", func(s syncd.Store) syncd.Store {
			return corrupt{s, func(sd *syncd.StoredDoc) {
				op := *sd.Tail[0]
				op.Rev++
				sd.Tail = []*syncd.Op{&op}
			}}
		}, "has rev"},
		{"LogStartsAfterSnapshot", func(s syncd.Store) syncd.Store {
			return corrupt{s, func(sd *syncd.StoredDoc) { sd.Meta.First = 3 }}
		}, "differs from List"},
		{"ReadOpsGap", func(s syncd.Store) syncd.Store { return skipping{s} }, "ReadOps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := memstore.New(memstore.Options{})
			fill(t, s)
			err := storetest.Check(context.Background(), c.wrap(s))
			if err == nil {
				t.Fatal("Check accepted a corrupted store")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Check: %v; want a message about %q", err, c.want)
			}
		})
	}
}
