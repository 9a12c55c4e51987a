package natsnode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Node is a NATS server running in this process: see the package doc.
// Start starts one, Close stops it; in between, Connect gives connections
// to it. Its methods are safe for concurrent use.
type Node struct {
	opts   Options
	srv    *server.Server // nil only when Start failed before creating it
	unlock func()
	log    *slog.Logger
	closed sync.Once
	// token is what clients present: only this process knows it.
	token string
}

// Start starts a node and returns once it serves: the server accepts
// connections, JetStream is on, in a cluster JetStream's meta leader is
// elected, and JetStream answers a request made through the node. It waits
// at most Options.StartTimeout, less if ctx ends sooner, and fails at once
// when the server reports a fatal error (a route address already in use,
// for instance). On failure nothing is left running.
func Start(ctx context.Context, o Options) (*Node, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, err // names the directory
	}
	unlock, err := lockDir(o.DataDir)
	if err != nil {
		return nil, err
	}
	n := &Node{opts: o, unlock: unlock}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	name, generated, err := resolveName(o.DataDir, o.Name)
	if err != nil {
		return nil, err
	}
	n.opts.Name = name
	n.log = o.Logger.With("nats_node", name)
	if n.token, err = randomToken(); err != nil {
		return nil, err
	}
	sopts, err := n.serverOptions()
	if err != nil {
		return nil, err
	}
	n.srv, err = server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("natsnode: %w", err)
	}
	logs := newServerLogger(n.log)
	n.srv.SetLoggerV2(logs, false, false, false)
	n.srv.Start()
	if err = n.waitReady(ctx, logs.fatal); err != nil {
		return nil, err
	}
	if err = n.waitAnswers(ctx); err != nil {
		return nil, err
	}
	attrs := []any{"data", o.DataDir, "name_generated", generated, "max_payload", sopts.MaxPayload, "sync", "always"}
	if n.Clustered() {
		attrs = append(attrs, "cluster", o.ClusterName, "listen", o.ClusterListen, "peers", strings.Join(o.otherPeers(), ","),
			"route_secret", o.RouteSecret != "", "route_tls", o.RouteTLS != nil)
	}
	n.log.Info("nats node started", attrs...)
	return n, nil
}

// serverOptions are the NATS server's options for n.
func (n *Node) serverOptions() (*server.Options, error) {
	o := &n.opts
	sopts := &server.Options{
		ServerName: o.Name,
		// Clients need no port: syncd's store connects in process
		// (Connect), which costs no socket. A single node opens none; a
		// cluster node must (the server starts its routes only once its
		// client listener is up), so it listens on loopback only, on a
		// port of the system's choosing, and requires a token known only
		// to this process: whoever else could reach a client port could
		// read and write the documents without syncd's authentication.
		// Tools such as the nats CLI belong with an external NATS cluster
		// (docs/cluster.md).
		DontListen:    o.ClusterListen == "",
		Host:          "127.0.0.1",
		Port:          server.RANDOM_PORT,
		Authorization: n.token,
		NoSigs:        true, // the signals are syncd's
		JetStream:     true,
		StoreDir:      o.DataDir,
		// Sync every write before acknowledging it: JetStream's default
		// is an fsync every two minutes, and syncd acknowledges an edit
		// only once it is durable (docs/guarantees.md).
		SyncAlways: true,
		MaxPayload: int32(MaxMessageBytes(o.MaxDocBytes)),
	}
	if o.ClusterListen == "" {
		return sopts, nil
	}
	host, port, _ := net.SplitHostPort(o.ClusterListen) // checked by withDefaults
	p, _ := strconv.Atoi(port)
	sopts.Cluster = server.ClusterOpts{
		Name: o.ClusterName,
		Host: host,
		Port: p,
		// Clients connect in process and never need the other nodes'
		// client addresses (there are none): advertise nothing.
		NoAdvertise: true,
	}
	if o.RouteSecret != "" {
		sopts.Cluster.Username = routeUser
		sopts.Cluster.Password = o.RouteSecret
	}
	if o.RouteTLS != nil {
		cfg, err := o.RouteTLS.routeTLSConfig()
		if err != nil {
			return nil, err
		}
		sopts.Cluster.TLSConfig = cfg
		sopts.Cluster.TLSTimeout = 5 // seconds, for a handshake between machines
	}
	sopts.Routes = o.routeURLs()
	return sopts, nil
}

// randomToken returns a client token no one can guess.
func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// pollInterval is how often Start and waits in tests look at the server's
// state: it offers no event for "ready" or "leader elected".
const pollInterval = 50 * time.Millisecond

// waitReady waits until the server serves (see Start).
func (n *Node) waitReady(ctx context.Context, fatal <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, n.opts.StartTimeout)
	defer cancel()
	what := "ready for connections"
	ready := func() bool {
		// Each call waits at most 10ms: the deadline is ours.
		if !n.srv.ReadyForConnections(10 * time.Millisecond) {
			return false
		}
		what = "JetStream enabled"
		if !n.srv.JetStreamEnabled() {
			return false
		}
		if !n.Clustered() {
			return true
		}
		what = "the JetStream meta leader elected"
		return n.metaLeader() != ""
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !ready() {
		select {
		case err := <-fatal:
			return fmt.Errorf("natsnode: the NATS server failed to start: %w", err)
		case <-ctx.Done():
			err := fmt.Errorf("natsnode: the NATS server was not %s within %v", what, n.opts.StartTimeout)
			if n.Clustered() {
				err = fmt.Errorf("%w; %d of %d peers connected: a new cluster needs a majority of its nodes up, with the same cluster name and route authentication, reachable at the peer addresses",
					err, n.connectedPeers(), len(n.opts.otherPeers()))
			}
			if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
				err = fmt.Errorf("%w (%w)", err, cause)
			}
			return err
		case <-tick.C:
		}
	}
	return nil
}

// firstAnswerTimeout and maxAnswerTimeout bound one JetStream request of
// waitAnswers: short at first (a lost answer is asked again sooner), then
// longer (a slow answer is not mistaken for a lost one forever).
const (
	firstAnswerTimeout = 250 * time.Millisecond
	maxAnswerTimeout   = 2 * time.Second
)

// waitAnswers waits until JetStream answers a request made through this
// node. A node that has just learnt of the meta leader may not be reached
// by its answers yet (the routes' interest is still spreading): a request
// then goes unanswered, and the store's first request would wait out its
// whole timeout. Each attempt is bounded; a lost answer is asked again.
func (n *Node) waitAnswers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.opts.StartTimeout)
	defer cancel()
	nc, err := n.Connect("syncd-start")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("natsnode: %w", err)
	}
	bound := firstAnswerTimeout
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, bound)
		_, err := js.AccountInfo(attempt)
		cancelAttempt()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("natsnode: JetStream did not answer through this node within %v: %w", n.opts.StartTimeout, err)
		}
		n.log.Debug("JetStream did not answer yet; asking again", "err", err)
		if errors.Is(err, context.DeadlineExceeded) {
			bound = min(2*bound, maxAnswerTimeout)
			continue // the attempt's own bound passed: ask at once
		}
		select { // an error answer (no leader yet, for one): pause
		case <-ctx.Done():
		case <-time.After(pollInterval):
		}
	}
}

// metaLeader returns the name of JetStream's meta leader as this node
// knows it, or "" while there is none.
func (n *Node) metaLeader() string {
	info, err := n.srv.Jsz(&server.JSzOptions{})
	if err != nil || info.Meta == nil {
		return ""
	}
	return info.Meta.Leader
}

// connectedPeers counts the other nodes this node has routes to. (A pair
// of nodes keeps a pool of several routes: NumRoutes counts them all.)
func (n *Node) connectedPeers() int {
	routez, err := n.srv.Routez(&server.RoutezOptions{})
	if err != nil {
		return 0
	}
	names := map[string]bool{}
	for _, r := range routez.Routes {
		names[r.RemoteName] = true
	}
	return len(names)
}

// Name is the node's name (given, kept or generated).
func (n *Node) Name() string { return n.opts.Name }

// Clustered reports whether the node is one of a cluster.
func (n *Node) Clustered() bool { return n.opts.ClusterListen != "" }

// Ready returns nil while the node can serve JetStream requests: the
// server runs and, in a cluster, a meta leader is known. Otherwise it says
// what is missing (for /readyz).
func (n *Node) Ready() error {
	if !n.srv.Running() {
		return errors.New("the NATS node is not running")
	}
	if n.Clustered() && n.metaLeader() == "" {
		return fmt.Errorf("no JetStream meta leader (%d of %d peers connected)", n.connectedPeers(), len(n.opts.otherPeers()))
	}
	return nil
}

// HasMetaLeader reports whether this node knows a JetStream meta leader
// (for metrics). A node not in a cluster needs none: it reports whether
// it runs.
func (n *Node) HasMetaLeader() bool {
	if !n.Clustered() {
		return n.srv.Running()
	}
	return n.metaLeader() != ""
}

// Connect opens a connection to the node, in process (no socket). It
// reconnects by itself should the server drop it (a slow consumer, for
// instance). The caller closes it, before closing the node.
func (n *Node) Connect(name string) (*nats.Conn, error) {
	opts := append(connOptions(n.log, name),
		nats.InProcessServer(n.srv),
		nats.Token(n.token),
		// The node advertises no client URLs, and other nodes' would be
		// no use: the connection is to this process only.
		nats.IgnoreDiscoveredServers(),
	)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("natsnode: connecting in process: %w", err)
	}
	return nc, nil
}

// Close shuts the node down and waits until all its goroutines have ended,
// then releases the data directory. Connections to it should be closed
// first (or they reconnect in vain until closed). Close is idempotent.
func (n *Node) Close() error {
	n.closed.Do(func() {
		if n.srv != nil {
			n.srv.Shutdown()
			n.srv.WaitForShutdown()
			n.log.Info("nats node stopped")
		}
		n.unlock()
	})
	return nil
}
