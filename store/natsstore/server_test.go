package natsstore_test

import (
	"context"
	"fmt"
	"net"
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
	go s.Start() // a clustered node's Start waits for its peers
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

// startCluster starts n nodes, each with routes to all (a clustered
// JetStream node refuses to start without routes), and waits until
// JetStream has a meta leader. The cluster ports are picked by listening
// on port 0 and closing: a node cannot be told another's ephemeral port
// before that one starts.
func startCluster(t testing.TB, n int) []*server.Server {
	t.Helper()
	ports := make([]int, n)
	var routes []*url.URL
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", ports[i])})
	}
	var nodes []*server.Server
	for i := range n {
		o := nodeOptions(t, fmt.Sprintf("n%d", i+1))
		o.Cluster = server.ClusterOpts{Name: "syncd-test", Host: "127.0.0.1", Port: ports[i]}
		o.Routes = routes
		nodes = append(nodes, startServer(t, o))
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
