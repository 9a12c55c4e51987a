package natsstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/natsstore"
)

// TestWatchAfterConsumerNodeDies: on a three-node cluster, the node that
// holds a store's consumer stops (the store's own connection is to
// another node): how long until the store's watch hears of a commit made
// after that?
func TestWatchAfterConsumerNodeDies(t *testing.T) {
	ctx := context.Background()
	nodes := startCluster(t, 3)
	const prefix = "watchfail"
	for try := 0; try < 3; try++ {
		// A's node changes from try to try: a consumer placed with the
		// stream's leader is then on another node than A's in one of them.
		a := try
		ncA := connect(t, nodes[a])
		var sA *natsstore.Store
		waitFor(t, 30*time.Second, "the store to open", func() bool {
			var err error
			sA, err = natsstore.New(ctx, ncA, natsstore.Options{Prefix: prefix, Replicas: 3, RequestTimeout: time.Second})
			return err == nil
		})
		defer sA.Close()
		calls := make(chan syncd.StoredChange, 1024)
		stop := sA.Watch("doc", func(c syncd.StoredChange) { calls <- c })
		defer stop()
		<-calls // start
		js, _ := jetstream.New(ncA)
		st, err := js.Stream(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		var host string
		for ci := range st.ListConsumers(ctx).Info() {
			if ci.Cluster != nil {
				host = ci.Cluster.Leader
			}
		}
		t.Logf("consumer on %q; stream leader %q; A on %s", host, streamLeader(t, ncA, prefix), nodes[a].Name())
		if host == nodes[a].Name() || host == "" {
			continue
		}
		var victim, writer int = -1, -1
		for i, n := range nodes {
			if n.Name() == host {
				victim = i
			} else if i != a {
				writer = i
			}
		}
		if victim < 0 || writer < 0 {
			t.Fatalf("victim %d writer %d", victim, writer)
		}
		nodes[victim].Shutdown()
		sB, err := natsstore.New(ctx, connect(t, nodes[writer]), natsstore.Options{Prefix: prefix, Replicas: 3, RequestTimeout: time.Second})
		var start time.Time
		waitFor(t, 60*time.Second, "B's create", func() bool {
			if err != nil {
				sB, err = natsstore.New(ctx, connect(t, nodes[writer]), natsstore.Options{Prefix: prefix, Replicas: 3, RequestTimeout: time.Second})
				return false
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			ok := sB.Commit(cctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "doc", Epoch: revision.Epoch("01JWFAIL000000000000000001")}}}) == nil
			start = time.Now()
			return ok
		})
		defer sB.Close()
		select {
		case <-calls:
			t.Logf("A's watch heard of B's create %v after it", time.Since(start))
		case <-time.After(60 * time.Second):
			t.Fatal("A's watch never heard of B's create")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("A's watch heard of B's create only %v after it was stored", d)
		}
		return
	}
	t.Skip("the consumer landed on A's node with A on each of the three nodes")
}
