package natsstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/natsstore"
	"github.com/deltasync/syncd/store/storetest"
)

// conformance runs storetest (with its persistent and multi-writer cases)
// on stores of prefix on the servers: every store the suite opens uses the
// same stream, emptied first (creating a stream per subtest costs an
// election on a cluster), through a connection to the first server; the
// second handle of the multi-writer cases connects to the last server.
func conformance(t *testing.T, ncs []*nats.Conn, prefix string, replicas int) {
	ctx := context.Background()
	opts := func(o storetest.Options) natsstore.Options {
		return natsstore.Options{Prefix: prefix, Replicas: replicas, RetainOps: o.Retention}
	}
	newStore := func(t *testing.T, nc *nats.Conn, o storetest.Options) *natsstore.Store {
		var s *natsstore.Store
		// Right after an election the stream may not answer yet.
		waitFor(t, 30*time.Second, "the store to open", func() bool {
			var err error
			s, err = natsstore.New(ctx, nc, opts(o))
			return err == nil
		})
		return s
	}
	empty := func(t *testing.T) {
		js, err := jetstream.New(ncs[0])
		if err != nil {
			t.Fatal(err)
		}
		st, err := js.Stream(ctx, prefix)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Purge(ctx); err != nil {
			t.Fatal(err)
		}
	}
	open := func(t *testing.T, o storetest.Options) syncd.Store {
		empty(t)
		return newStore(t, ncs[0], o)
	}
	reopen := func(t *testing.T, old syncd.Store, o storetest.Options) syncd.Store {
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		return newStore(t, ncs[0], o)
	}
	storetest.RunPersistent(t, open, reopen)
	storetest.RunShared(t, func(t *testing.T) (syncd.SharedStore, syncd.SharedStore) {
		empty(t)
		a := newStore(t, ncs[0], storetest.Options{})
		b := newStore(t, ncs[len(ncs)-1], storetest.Options{})
		return a, b
	})
}

// TestSingleNode runs every case on one node (replicas 1).
func TestSingleNode(t *testing.T) {
	nc := connect(t, startNode(t))
	t.Run("Conformance", func(t *testing.T) { conformance(t, []*nats.Conn{nc}, "single", 1) })
	t.Run("LostAcks", func(t *testing.T) { testLostAcks(t, nc, "lost") })
	t.Run("ConcurrentNew", func(t *testing.T) { testConcurrentNew(t, nc) })
	t.Run("WatchStop", func(t *testing.T) { testWatchStop(t, nc) })
	t.Run("WatchTellsOps", func(t *testing.T) { testWatchTellsOps(t, nc) })
	t.Run("OddIDs", func(t *testing.T) { testOddIDs(t, nc) })
	t.Run("AppendStats", func(t *testing.T) { testAppendStats(t, nc, "stats") })
}

// TestCluster runs every case on one 3-node cluster (replicas 3), started
// once: an election takes seconds.
func TestCluster(t *testing.T) {
	nodes := startCluster(t, 3)
	var ncs []*nats.Conn
	for _, n := range nodes {
		ncs = append(ncs, connect(t, n))
	}
	t.Run("Conformance", func(t *testing.T) { conformance(t, ncs, "cluster", 3) })
	t.Run("LostAcks", func(t *testing.T) { testLostAcks(t, ncs[1], "lost") })
	t.Run("LeaderFailover", func(t *testing.T) { testLeaderFailover(t, nodes, ncs) })
}
