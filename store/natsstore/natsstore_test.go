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

func TestConformanceSingleNode(t *testing.T) {
	nc := connect(t, startNode(t))
	conformance(t, []*nats.Conn{nc}, "single", 1)
}

func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-node cluster: -short")
	}
	nodes := startCluster(t, 3)
	var ncs []*nats.Conn
	for _, n := range nodes {
		ncs = append(ncs, connect(t, n))
	}
	conformance(t, ncs, "cluster", 3)
}
