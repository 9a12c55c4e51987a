package clustertest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd/internal/syncdproc"
)

// StartTimeout bounds the start of a whole cluster: every node launched,
// the routes up, a meta leader elected and every node serving. Elections
// take seconds; a loaded CI machine may take more.
const StartTimeout = 90 * time.Second

// Options of a cluster.
type Options struct {
	// Nodes is how many syncd processes (default 3).
	Nodes int
	// Args are extra flags given to every node.
	Args []string
	// NATSURL, when set, runs the nodes against external NATS instead of
	// embedded nodes: node i gets -nats-url NATSURL(i) (and replicas
	// NATSReplicas, default 1). The test runs the NATS servers.
	NATSURL      func(i int) string
	NATSReplicas int
}

// Cluster is a set of syncd processes, each running an embedded NATS node,
// forming one cluster over routes on 127.0.0.1. Every node keeps its ports
// and data directory across restarts, so a client's list of URLs stays
// valid and a restarted node rejoins under its name.
type Cluster struct {
	t      testing.TB
	Nodes  []*Node
	APIKey string
	secret string
	args   []string
	// natsURL and natsReplicas: Options.NATSURL, NATSReplicas.
	natsURL      func(i int) string
	natsReplicas int
}

// Node is one member of a Cluster.
type Node struct {
	// Name is its NATS node name (-cluster-node).
	Name string
	// Addr is its HTTP/WebSocket host:port, fixed for the node's life.
	Addr string
	// Route is its NATS route host:port (-cluster-listen).
	Route string
	// DataDir is its -data directory.
	DataDir string
	// Proc is the running process (nil before the first start).
	Proc *syncdproc.Proc
}

// URL is the node's HTTP base URL; WS its WebSocket URL.
func (n *Node) URL() string { return "http://" + n.Addr }

// WS is the node's WebSocket URL.
func (n *Node) WS() string { return "ws://" + n.Addr + "/ws" }

// Start launches a cluster and waits until every node serves and names
// the same stream leader. It is stopped when the test ends.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.NATSReplicas == 0 {
		o.NATSReplicas = 1
	}
	c := &Cluster{t: t, APIKey: "cluster-test-api-key", secret: "cluster-test-route-secret-0123456789", args: o.Args,
		natsURL: o.NATSURL, natsReplicas: o.NATSReplicas}
	ports := FreePorts(t, 2*o.Nodes)
	for i := 0; i < o.Nodes; i++ {
		c.Nodes = append(c.Nodes, &Node{
			Name:    fmt.Sprintf("n%d", i+1),
			Addr:    fmt.Sprintf("127.0.0.1:%d", ports[2*i]),
			Route:   fmt.Sprintf("127.0.0.1:%d", ports[2*i+1]),
			DataDir: t.TempDir(),
		})
	}
	all := make([]int, o.Nodes)
	for i := range all {
		all[i] = i
	}
	if err := c.launch(all...); err != nil {
		t.Fatal(err)
	}
	// Serving is not yet usable: a node serves once its store is open,
	// and the stream may still be electing its leader (CI: a cluster
	// serving after 4 s answered a writer's first JOIN on one node
	// "UNAVAILABLE: store load failed", in every scenario until the
	// election ended). A test starts once every node names one leader.
	// (Embedded nodes only: an external NATS's leader is none of them,
	// and its stream was up before syncd started.)
	if c.natsURL == nil {
		if _, err := c.StreamLeader(StartTimeout); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// peers is the -cluster-peers list: every node's route, the node's own
// included (syncd tolerates it, so every node gets the same list).
func (c *Cluster) peers() string {
	routes := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		routes[i] = n.Route
	}
	return strings.Join(routes, ",")
}

// launch starts the nodes given together (a node of a new or fully stopped
// cluster waits for a quorum before it serves, so they cannot be started
// one after another) and waits until each serves. It does not fail the
// test itself, so it may run on any goroutine.
func (c *Cluster) launch(idx ...int) error {
	replicas := len(c.Nodes)
	if replicas > 3 {
		replicas = 3
	}
	for _, i := range idx {
		n := c.Nodes[i]
		args := []string{"-addr", n.Addr, "-store", "nats", "-api-key", c.APIKey}
		var env []string
		if c.natsURL != nil {
			args = append(args, "-nats-url", c.natsURL(i), "-nats-replicas", fmt.Sprint(c.natsReplicas))
		} else {
			args = append(args,
				"-cluster-name", "syncd-test",
				"-cluster-node", n.Name,
				"-cluster-listen", n.Route,
				"-cluster-peers", c.peers(),
				"-nats-replicas", fmt.Sprint(replicas))
			env = []string{"SYNCD_CLUSTER_SECRET=" + c.secret}
		}
		n.Proc = syncdproc.Launch(c.t, syncdproc.Options{
			Args:    append(args, c.args...),
			DataDir: n.DataDir,
			Env:     env,
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(idx))
	for k, i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = c.Nodes[i].Proc.WaitServing(StartTimeout)
		}()
	}
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			return fmt.Errorf("node %s: %w", c.Nodes[idx[k]].Name, err)
		}
	}
	return nil
}

// URLs returns the HTTP base URLs of every node, running or not (a client
// given all of them fails over between them).
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL()
	}
	return urls
}

// Kill kills node i with SIGKILL.
func (c *Cluster) Kill(i int) { c.Nodes[i].Proc.Kill() }

// Restart starts the given nodes again (which must have exited), on their
// ports and data directories, and waits until they serve. Like launch,
// it may run on any goroutine.
func (c *Cluster) Restart(idx ...int) error {
	for _, i := range idx {
		if c.Nodes[i].Proc != nil && c.Nodes[i].Proc.Running() {
			return fmt.Errorf("node %s is still running", c.Nodes[i].Name)
		}
	}
	return c.launch(idx...)
}

// FreePorts returns n distinct TCP ports free on 127.0.0.1 at the time of
// the call, taken below the system's ephemeral range. A node keeps its
// ports across restarts; a port from the ephemeral range could meanwhile
// become the local end of some outgoing connection (a test's own HTTP
// request), and the restarted node could not listen on it.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	lo, hi := 20000, ephemeralLow()
	if hi-lo < 1000 {
		lo = 1024 // an unusual system: whatever lies below its range
	}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			t.Fatalf("no %d free ports between %d and %d", n, lo, hi)
		}
		p := lo + rand.IntN(hi-lo)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue // taken
		}
		ls = append(ls, l)
		ports = append(ports, p)
	}
	return ports
}

// ephemeralLow is the first port of the system's ephemeral range (Linux:
// /proc/sys/net/ipv4/ip_local_port_range), 32768 when it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	v, err := strconv.Atoi(f[0])
	if err != nil || v <= 1024 {
		return 32768
	}
	return v
}
