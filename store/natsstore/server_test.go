package natsstore_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd/store/natsstore"
)

// The NATS servers of the tests: real nats-server nodes embedded in the
// test process, on 127.0.0.1 with ephemeral ports, JetStream on and every
// write synced before it is acknowledged, files under t.TempDir().

// testMaxPayload fits the store's largest message with the default
// document size.
var testMaxPayload = int32(natsstore.MessageBytes(0))

func nodeOptions(t testing.TB, name string) *server.Options {
	return &server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		Port:       -1,
		NoLog:      true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		SyncAlways: true,
		MaxPayload: testMaxPayload,
	}
}

func startServer(t testing.TB, o *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("nats server %s: %v", o.ServerName, err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatalf("nats server %s did not start", o.ServerName)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// startNode starts one node with JetStream.
func startNode(t testing.TB) *server.Server {
	t.Helper()
	return startServer(t, nodeOptions(t, "single"))
}

// startCluster starts n nodes routed to the first one (routes gossip, so
// every node meets every other) and waits until JetStream has a meta
// leader.
func startCluster(t testing.TB, n int) []*server.Server {
	t.Helper()
	var nodes []*server.Server
	var seed []*url.URL
	for i := range n {
		o := nodeOptions(t, fmt.Sprintf("n%d", i+1))
		o.Cluster = server.ClusterOpts{Name: "syncd-test", Host: "127.0.0.1", Port: -1}
		o.Routes = seed
		s := startServer(t, o)
		if i == 0 {
			seed = server.RoutesFromStr(fmt.Sprintf("nats://%s", s.ClusterAddr()))
		}
		nodes = append(nodes, s)
	}
	nc := connect(t, nodes[0])
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a JetStream meta leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	return nodes
}

func connect(t testing.TB, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// waitFor polls cond every 20 ms until it holds, failing the test after
// limit.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
