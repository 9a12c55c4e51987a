package natsstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/natsstore"
)

// BenchmarkOwnAppendTold measures what delivering a writer's own commits
// from the stream's watch, instead of from the commit's acknowledgement,
// would add to an echo: for each one-operation append, the time from
// Commit's return (the acknowledgement) to the watch being told of it.
// Negative values mean the watch heard first. docs/cluster.md ("One
// fan-out path") quotes it.
func BenchmarkOwnAppendTold(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			var nc *nats.Conn
			if nodes == 1 {
				nc = connect(b, startNode(b))
			} else {
				// Commit through a node that may not lead the stream, as
				// two of a cluster's three instances do.
				nc = connect(b, startCluster(b, nodes)[1])
			}
			benchOwnAppendTold(b, nc, nodes)
		})
	}
}

func benchOwnAppendTold(b *testing.B, nc *nats.Conn, replicas int) {
	ctx := context.Background()
	s, err := natsstore.New(ctx, nc, natsstore.Options{Prefix: "told", Replicas: replicas})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const epoch = "01JTOLD0000000000000000001"
	told := make(chan revision.Rev, 1024)
	stop := s.Watch("doc", func(c syncd.StoredChange) {
		for _, op := range c.Ops {
			told <- op.Rev
		}
	})
	defer stop()
	if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "doc", Epoch: epoch}}}); err != nil {
		b.Fatal(err)
	}
	delays := make([]time.Duration, 0, b.N)
	commits := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		rev := revision.Rev(i + 1)
		op := &syncd.Op{Rev: rev, Kind: syncd.OpMerge, Payload: []byte(`{"k":"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"}`), ClientID: "c", ClientReqID: fmt.Sprintf("r-%d", rev), Time: 1}
		start := time.Now()
		if err := s.Commit(ctx, []syncd.Record{{Append: &syncd.AppendRecord{Doc: "doc", Epoch: epoch, Op: op}}}); err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		commits = append(commits, acked.Sub(start))
		heard := false
		for !heard {
			select {
			case r := <-told:
				if r == rev {
					heard = true
					delays = append(delays, time.Since(acked))
				}
			case <-time.After(10 * time.Second):
				b.Fatalf("append %d was not told to the watch", rev)
			}
		}
	}
	b.StopTimer()
	// time.Since(acked) is taken when the waiting loop reads the channel:
	// a watch told before the acknowledgement shows as ~0, not negative.
	slices.Sort(delays)
	slices.Sort(commits)
	q := func(d []time.Duration, f float64) float64 { return float64(d[int(f*float64(len(d)-1))].Microseconds()) }
	b.ReportMetric(q(commits, 0.5), "commit-p50-µs")
	b.ReportMetric(q(delays, 0.5), "told-after-ack-p50-µs")
	b.ReportMetric(q(delays, 0.99), "told-after-ack-p99-µs")
}
