package boltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/boltstore"
)

// BenchmarkCommit measures one Commit (one transaction, one fsync) of a
// batch of appends, all to one document or spread over 64, as the
// engine's group commit produces them. ns/record is the cost per append,
// the number that group commit is meant to drive down. The sync=false
// runs show how much of it is the fsync.
func BenchmarkCommit(b *testing.B) {
	for _, sync := range []bool{true, false} {
		for _, docs := range []int{1, 64} {
			for _, records := range []int{1, 16, 256} {
				name := fmt.Sprintf("sync=%v/docs=%d/records=%d", sync, docs, records)
				b.Run(name, func(b *testing.B) { benchCommit(b, !sync, docs, records) })
			}
		}
	}
}

func benchCommit(b *testing.B, noSync bool, docs, records int) {
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), boltstore.Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const epoch = revision.Epoch("01J00000000000000000000001")
	ids := make([]string, docs)
	var create []syncd.Record
	for d := range ids {
		ids[d] = fmt.Sprintf("room/%04d", d)
		create = append(create, syncd.Record{Create: &syncd.CreateRecord{Doc: ids[d], Epoch: epoch}})
	}
	if err := s.Commit(ctx, create); err != nil {
		b.Fatal(err)
	}
	heads := make([]revision.Rev, docs)
	next := 0 // round-robin over documents, so a batch of 1 also spreads
	batch := make([]syncd.Record, records)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for r := range batch {
			d := next % docs
			next++
			heads[d]++
			batch[r] = syncd.Record{Append: &syncd.AppendRecord{Doc: ids[d], Epoch: epoch, Op: &syncd.Op{
				Rev: heads[d], Kind: syncd.OpMerge,
				Payload:  fmt.Appendf(nil, `{"cursor":{"x":%d,"y":%d},"label":"item %d"}`, i, r, i),
				ClientID: "01JCLIENT00000000000000001", ClientReqID: fmt.Sprintf("01JREQ%020d", i*records+r),
				Time: 1_700_000_000_000 + int64(i),
			}}}
		}
		if err := s.Commit(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
}

// BenchmarkReadOps measures a catch-up page: 256 ops from the middle of a
// 10,000-op log.
func BenchmarkReadOps(b *testing.B) {
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const epoch = revision.Epoch("01J00000000000000000000001")
	batch := []syncd.Record{{Create: &syncd.CreateRecord{Doc: "doc", Epoch: epoch}}}
	for r := revision.Rev(1); r <= 10_000; r++ {
		batch = append(batch, syncd.Record{Append: &syncd.AppendRecord{Doc: "doc", Epoch: epoch, Op: &syncd.Op{
			Rev: r, Kind: syncd.OpMerge, Payload: fmt.Appendf(nil, `{"n":%d}`, r), ClientID: "c", ClientReqID: fmt.Sprint(r),
		}}})
	}
	if err := s.Commit(ctx, batch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ops, err := s.ReadOps(ctx, "doc", epoch, 5000, 256)
		if err != nil || len(ops) != 256 {
			b.Fatal(len(ops), err)
		}
	}
}
