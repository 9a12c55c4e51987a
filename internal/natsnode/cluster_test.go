package natsnode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestCluster: three nodes on 127.0.0.1, each given the same peer list
// (itself included), form a cluster; an R3 stream accepts publishes made
// through every node; a fourth node with the wrong secret does not join.
// It takes some seconds: JetStream's first meta election (its timeouts
// are not configurable from outside).
func TestCluster(t *testing.T) {
	const secret = "route-secret-of-the-cluster"
	var logs logBuffer
	peersOf := func(ports []int) []string {
		return []string{loopback(ports[0]), loopback(ports[1]), loopback(ports[2])}
	}
	start := time.Now()
	ports, nodes, errs := startOnFreePorts(t, 4, func(ports []int, base string) []Options {
		opts := make([]Options, 3)
		for i := range opts {
			opts[i] = Options{
				Name:          fmt.Sprintf("n%d", i),
				DataDir:       filepath.Join(base, fmt.Sprintf("n%d", i)),
				ClusterName:   "test",
				ClusterListen: peersOf(ports)[i],
				Peers:         peersOf(ports),
				RouteSecret:   secret,
				StartTimeout:  30 * time.Second,
				Logger:        logs.logger(),
			}
		}
		return opts
	})
	peers := peersOf(ports)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v\nlogs:\n%s", i, err, logs.String())
		}
	}
	t.Logf("cluster formed in %v", time.Since(start))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var streams []jetstream.JetStream
	for _, n := range nodes {
		if err := n.Ready(); err != nil {
			t.Fatalf("%s: Ready: %v", n.Name(), err)
		}
		nc, err := n.Connect("test")
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, js)
	}
	// The meta leader places an R3 stream once it has heard from every
	// node's JetStream (a moment after the election): until then a
	// creation fails with "no suitable peers for placement" (10005),
	// which the store retries.
	waitUntil(t, 10*time.Second, "three JetStream peers known to the meta leader", func() bool {
		for _, n := range nodes {
			if len(n.srv.JetStreamClusterPeers()) == 3 {
				return true
			}
		}
		return false
	})
	if _, err := streams[0].CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		ack, err := streams[i%3].Publish(ctx, "r3.doc", []byte(fmt.Sprint(i)))
		// Just after the creation a node may not know yet of the stream's
		// subjects: nobody received the publish, so nothing was stored,
		// and it can be sent again.
		for try := 0; errors.Is(err, jetstream.ErrNoStreamResponse) && try < 50; try++ {
			time.Sleep(100 * time.Millisecond)
			ack, err = streams[i%3].Publish(ctx, "r3.doc", []byte(fmt.Sprint(i)))
		}
		if err != nil || ack.Sequence != uint64(i+1) {
			t.Fatalf("publish %d through %s: %+v %v", i, nodes[i%3].Name(), ack, err)
		}
	}
	info, err := streams[2].Stream(ctx, "R3")
	if err != nil {
		t.Fatal(err)
	}
	if ci := info.CachedInfo().Cluster; ci == nil || len(ci.Replicas) != 2 || ci.Leader == "" {
		t.Fatalf("stream cluster info %+v", ci)
	}

	t.Run("wrong secret does not join", func(t *testing.T) {
		var strangerLogs logBuffer
		stranger := Options{
			Name:          "stranger",
			DataDir:       filepath.Join(t.TempDir(), "stranger"),
			ClusterName:   "test",
			ClusterListen: loopback(ports[3]),
			Peers:         peers,
			RouteSecret:   "not-the-secret-of-the-cluster",
			StartTimeout:  3 * time.Second,
			Logger:        strangerLogs.logger(),
		}
		n, err := Start(context.Background(), stranger)
		if err == nil {
			n.Close()
			t.Fatal("a node with the wrong secret started")
		}
		if !strings.Contains(err.Error(), "meta leader") || !strings.Contains(err.Error(), "0 of 3 peers connected") {
			t.Fatalf("error %q", err)
		}
		for _, n := range nodes {
			if got := n.connectedPeers(); got != 2 {
				t.Errorf("%s is connected to %d peers, want 2", n.Name(), got)
			}
		}
		if !strings.Contains(strings.ToLower(logs.String()+strangerLogs.String()), "authorization") {
			t.Errorf("no authorization error logged:\n%s\n%s", logs.String(), strangerLogs.String())
		}
	})
}

// TestClusterPortInUse: a cluster address already taken fails Start at
// once, saying so, instead of waiting for the start timeout.
func TestClusterPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var logs logBuffer
	start := time.Now()
	n, err := Start(context.Background(), Options{
		DataDir: t.TempDir(), ClusterName: "c", ClusterListen: ln.Addr().String(),
		Peers: []string{loopback(freePorts(t, 1)[0])}, StartTimeout: 20 * time.Second, Logger: logs.logger(),
	})
	if err == nil {
		n.Close()
		t.Fatal("started on a port in use")
	}
	if !strings.Contains(err.Error(), "failed to start") || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("error %q", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
}
