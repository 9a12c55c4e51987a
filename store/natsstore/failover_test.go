package natsstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/natsstore"
)

// testLeaderFailover kills the node leading the stream while a writer
// commits: commits go on once another node leads, every acknowledged
// operation is in the log, and none is there twice. It leaves the cluster
// with one node down, so it runs last.
func testLeaderFailover(t *testing.T, nodes []*server.Server, ncs []*nats.Conn) {
	ctx := context.Background()
	const prefix = "failover"
	probe, err := natsstore.New(ctx, ncs[0], natsstore.Options{Prefix: prefix, Replicas: 3, RequestTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	probe.Close()
	leader := streamLeader(t, ncs[0], prefix)
	var victim, survivor int = -1, -1
	for i, n := range nodes {
		if n.Name() == leader {
			victim = i
		} else if survivor < 0 {
			survivor = i
		}
	}
	if victim < 0 {
		t.Fatalf("no node is named %q, the stream's leader", leader)
	}
	s, err := natsstore.New(ctx, ncs[survivor], natsstore.Options{Prefix: prefix, Replicas: 3, RequestTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const e = revision.Epoch("01JFAIL0000000000000000001")
	if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "d", Epoch: e}}}); err != nil {
		t.Fatal(err)
	}
	acked := make(map[string]bool)
	var head revision.Rev
	deadline := time.Now().Add(60 * time.Second)
	for n := 1; len(acked) < 30; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("only %d commits acknowledged in a minute", len(acked))
		}
		if len(acked) == 10 && nodes[victim].Running() {
			nodes[victim].Shutdown()
		}
		req := fmt.Sprintf("r-%d", n)
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := s.Commit(cctx, []syncd.Record{{Append: &syncd.AppendRecord{Doc: "d", Epoch: e, Op: &syncd.Op{
			Rev: head + 1, Kind: syncd.OpMerge, Payload: []byte(`{"n":1}`), ClientID: "c1", ClientReqID: req, Time: int64(n),
		}}}})
		cancel()
		var pe *syncd.PartialCommitError
		switch {
		case err == nil:
			acked[req] = true
			head++
		case errors.As(err, &pe) && (errors.Is(pe.Failed["d"], syncd.ErrConflict) || errors.Is(pe.Failed["d"], syncd.ErrOutcomeUnknown) || errors.Is(pe.Failed["d"], syncd.ErrUnavailable)):
			// Learn the head again, as the engine would.
			sd, lerr := s.Load(ctx, "d")
			if lerr == nil {
				head = sd.Meta.Head
			}
		default:
			t.Fatalf("commit %d: %v", n, err)
		}
	}
	if nodes[victim].Running() {
		t.Fatal("the leader was not stopped")
	}
	sd, err := s.Load(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]int)
	for _, op := range sd.Tail {
		seen[op.ClientReqID]++
	}
	for req, n := range seen {
		if n > 1 {
			t.Errorf("request %s is in the log %d times", req, n)
		}
	}
	for req := range acked {
		if seen[req] != 1 {
			t.Errorf("acknowledged request %s is not in the log", req)
		}
	}
	if newLeader := streamLeader(t, ncs[survivor], prefix); newLeader == leader {
		t.Errorf("the stream is still led by the stopped node %s", leader)
	}
}

func streamLeader(t *testing.T, nc *nats.Conn, stream string) string {
	t.Helper()
	var leader string
	waitFor(t, 30*time.Second, "a stream leader", func() bool {
		js, err := jetstream.New(nc)
		if err != nil {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := js.Stream(ctx, stream)
		if err != nil {
			return false
		}
		info, err := st.Info(ctx)
		if err != nil || info.Cluster == nil || info.Cluster.Leader == "" {
			return false
		}
		leader = info.Cluster.Leader
		return true
	})
	return leader
}
