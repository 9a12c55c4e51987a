package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/internal/natsbus"
	"github.com/deltasync/syncd/internal/natsnode"
	"github.com/deltasync/syncd/server"
	"github.com/nats-io/nats.go"
)

// -store nats: start the embedded node or connect to external NATS, then
// open the store on the connection. At exit (shutdown.go) the store is
// closed first, then the connection, then the node, so that the store's
// last writes reach NATS and the node syncs them before it stops.

// natsParts are what -store nats runs besides the store.
type natsParts struct {
	node *natsnode.Node // embedded mode only
	conn *nats.Conn
}

// natsDataDir is where an embedded node keeps its files, under -data.
func (c *Config) natsDataDir() string { return filepath.Join(c.DataDir, "nats") }

// openNATS starts the node or connects, and opens the store.
func (m *Main) openNATS(ctx context.Context) (syncd.Store, error) {
	k := &m.Config.Cluster
	ctx, cancel := context.WithTimeout(ctx, k.StartTimeout)
	defer cancel()
	var nc *nats.Conn
	if k.embedded() {
		secret, err := k.routeSecret()
		if err != nil {
			return nil, err
		}
		node, err := natsnode.Start(ctx, natsnode.Options{
			Name:          k.Node,
			DataDir:       m.Config.natsDataDir(),
			ClusterName:   k.Name,
			ClusterListen: k.Listen,
			Peers:         k.peers(),
			RouteSecret:   secret,
			RouteTLS:      k.routeTLS(),
			MaxDocBytes:   m.Config.largestNATSDoc(),
			StartTimeout:  k.StartTimeout,
			Logger:        m.Logger,
		})
		if errors.Is(err, natsnode.ErrLocked) {
			return nil, fmt.Errorf("the data directory %s is in use by another syncd (%w): stop that one, or give this one another -data", m.Config.DataDir, err)
		}
		if err != nil {
			return nil, err
		}
		m.nats.node = node
		if nc, err = node.Connect("syncd"); err != nil {
			return nil, err
		}
	} else {
		var err error
		nc, err = natsnode.Connect(ctx, natsnode.ExternalOptions{
			URLs:        splitList(k.URL),
			Creds:       k.Creds,
			User:        k.User,
			Password:    k.Password,
			Token:       k.Token,
			TLSCA:       k.NATSTLS,
			Name:        "syncd",
			MaxDocBytes: m.Config.largestNATSDoc(),
			Logger:      m.Logger,
		})
		if err != nil {
			return nil, err
		}
	}
	m.nats.conn = nc
	open := m.natsStoreOpener
	if open == nil {
		open = openNATSStore
	}
	return open(ctx, nc, k.Prefix, k.replicas(), m.Config.largestNATSDoc())
}

// clusterBus is what the instances of a cluster tell each other outside
// the log (server.Bus: room messages, presence, client id claims), on the
// NATS connection of -store nats, under <prefix>.bus (the store's stream
// takes <prefix>.log, .snap and .client only). Nil for the other stores:
// one instance needs no bus.
func (m *Main) clusterBus() (server.Bus, error) {
	if m.nats.conn == nil {
		return nil, nil
	}
	return natsbus.New(m.nats.conn, m.Config.Cluster.Prefix+".bus", natsbus.Options{})
}

// closeNATS closes the connection, then the node (shutdown.go calls it
// after the store is closed).
func (m *Main) closeNATS() error {
	if m.nats.conn != nil {
		m.nats.conn.Close()
		m.nats.conn = nil
	}
	if m.nats.node != nil {
		err := m.nats.node.Close()
		m.nats.node = nil
		return err
	}
	return nil
}

// natsReady returns nil while -store nats can serve: the connection is up
// and, embedded, the node has a JetStream meta leader.
func (m *Main) natsReady() error {
	if m.nats.conn == nil {
		return errors.New("not connected to NATS")
	}
	if !m.nats.conn.IsConnected() {
		return fmt.Errorf("NATS connection %s", strings.ToLower(m.nats.conn.Status().String()))
	}
	if m.nats.node != nil {
		return m.nats.node.Ready()
	}
	return nil
}

// natsState is the NATS link's state for the server's metrics (-store
// nats; server.Metrics.WatchNATS). It reads the connection and the node
// at each scrape; after closeNATS it says disconnected.
func (m *Main) natsState() server.NATSState {
	var s server.NATSState
	if nc := m.nats.conn; nc != nil {
		s.Connected = nc.IsConnected()
		s.Reconnects = nc.Stats().Reconnects
	}
	if node := m.nats.node; node != nil {
		s.Embedded = true
		s.NodeReady = node.Ready() == nil
		s.MetaLeader = node.HasMetaLeader()
	}
	return s
}

// natsMode describes -store nats for /readyz, the logs and the admin page.
func (c *Config) natsMode(nodeName string) string {
	k := &c.Cluster
	var b strings.Builder
	if k.embedded() {
		fmt.Fprintf(&b, "nats embedded, node %s", nodeName)
		if k.Listen != "" {
			fmt.Fprintf(&b, ", cluster %s", k.Name)
		}
	} else {
		b.WriteString("nats external")
	}
	fmt.Fprintf(&b, ", prefix %s, replicas %d", k.Prefix, k.replicas())
	return b.String()
}

// natsLogAttrs are the attributes of the "syncd is serving" log line.
func (m *Main) natsLogAttrs() []any {
	k := &m.Config.Cluster
	if !k.embedded() {
		return []any{"nats", "external", "nats_server", m.nats.conn.ConnectedUrlRedacted(), "prefix", k.Prefix, "replicas", k.replicas()}
	}
	attrs := []any{"nats", "embedded", "node", m.nats.node.Name(), "data", m.Config.natsDataDir()}
	if k.Listen != "" {
		attrs = append(attrs, "cluster", k.Name, "cluster_listen", k.Listen)
	}
	return append(attrs, "prefix", k.Prefix, "replicas", k.replicas())
}

// readiness puts -store nats's state in front of the server's /readyz:
// not ready (503, saying why) while NATS cannot serve or the watchdog's
// last probe failed (nats_watch.go); when ready, the mode on a second line
// and the node leading the stream on a third ("stream leader: NAME", once
// the watchdog has had an answer).
func (m *Main) readiness(next http.Handler) http.Handler {
	if m.Config.Store != "nats" {
		return next
	}
	mode := m.Config.natsMode(m.nodeName())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		err := m.natsReady()
		leader, probeErr := m.natsWatch.state()
		if err == nil && probeErr != nil {
			err = fmt.Errorf("NATS does not answer: %w", probeErr)
		}
		if err != nil {
			http.Error(w, "not ready: "+err.Error()+"\nstore: "+mode, http.StatusServiceUnavailable)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.status == http.StatusOK {
			fmt.Fprintf(w, "store: %s\n", mode)
			if leader != "" {
				fmt.Fprintf(w, "stream leader: %s\n", leader)
			}
		}
	})
}

// nodeName is the embedded node's name, "" otherwise.
func (m *Main) nodeName() string {
	if m.nats.node == nil {
		return ""
	}
	return m.nats.node.Name()
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
