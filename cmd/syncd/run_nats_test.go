package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/internal/natsnode"
	"github.com/deltasync/syncd/store/memstore"
	"github.com/deltasync/syncd/store/natsstore"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// -store nats without store/natsstore: the node starts or the connection
// is made, the store opener gets a working connection, /readyz and the
// logs say which mode, and the shutdown closes everything. A memory store
// stands in for the NATS store, which is not on this branch.

// natsOpened is what the stand-in store opener saw.
type natsOpened struct {
	prefix   string
	replicas int
}

// bootNATS runs the program with -store nats and args, and a store
// opener that checks JetStream on the connection it is given.
func bootNATS(t *testing.T, env map[string]string, args ...string) (*Main, *syncBuffer, *natsOpened) {
	t.Helper()
	m, logs, opened, err := startNATS(t, env, args...)
	if err != nil {
		t.Fatalf("Run: %v\nlogs:\n%s", err, logs.String())
	}
	return m, logs, opened
}

// startNATS is bootNATS returning Run's error (safe off the test's
// goroutine).
func startNATS(t *testing.T, env map[string]string, args ...string) (*Main, *syncBuffer, *natsOpened, error) {
	m := NewMain()
	logs := &syncBuffer{}
	m.Stdout, m.Stderr = io.Discard, logs
	m.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opened := &natsOpened{}
	m.natsStoreOpener = func(ctx context.Context, nc *nats.Conn, prefix string, replicas, maxDocBytes int) (syncd.Store, error) {
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, err
		}
		if _, err := js.AccountInfo(ctx); err != nil {
			return nil, err
		}
		// The stream the real store would create: the NATS watchdog
		// (nats_watch.go) asks for its leader.
		// Bounded attempts, as the store makes them: instances that
		// start together race to create it.
		for {
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := js.CreateOrUpdateStream(actx, jetstream.StreamConfig{Name: prefix, Subjects: []string{prefix + ".>"}, Replicas: replicas})
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil, err
			}
			time.Sleep(100 * time.Millisecond)
		}
		opened.prefix, opened.replicas = prefix, replicas
		return memstore.New(memstore.Options{}), nil
	}
	all := append([]string{"-addr", "127.0.0.1:0", "-drain", "0", "-store", "nats"}, args...)
	if err := m.ParseFlags(all, func(k string) string { return env[k] }); err != nil {
		return nil, logs, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		return nil, logs, nil, err
	}
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() { m.Close() })
		if t.Failed() {
			t.Logf("syncd logs:\n%s", logs.String())
		}
	})
	return m, logs, opened, nil
}

// readyz returns /readyz's status and body.
func readyz(t *testing.T, m *Main) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestNATSEmbeddedNode: a single embedded node under -data/nats, named by
// -cluster-node and kept; /readyz, the logs and the admin description say
// so; Close stops the node (its data directory can be used again).
func TestNATSEmbeddedNode(t *testing.T) {
	dir := t.TempDir()
	m, logs, opened := bootNATS(t, nil, "-data", dir, "-cluster-node", "alpha", "-nats-prefix", "docs")
	if opened.prefix != "docs" || opened.replicas != 1 {
		t.Fatalf("store opened with %+v, want prefix docs, replicas 1", *opened)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "nats", natsnode.NameFile)); err != nil || strings.TrimSpace(string(b)) != "alpha" {
		t.Fatalf("name file %q %v", b, err)
	}
	code, body := readyz(t, m)
	if code != http.StatusOK || !strings.Contains(body, "ready\n") || !strings.Contains(body, "store: nats embedded, node alpha, prefix docs, replicas 1") {
		t.Fatalf("/readyz %d %q", code, body)
	}
	// The watchdog names the stream's leader (this node) in /readyz and
	// the syncd_nats_stream_leader metric.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body = readyz(t, m)
		if strings.Contains(body, "stream leader: alpha\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz names no stream leader: %q", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "\nsyncd_nats_stream_leader 1\n") {
		t.Errorf("/metrics lacks syncd_nats_stream_leader 1")
	}
	out := logs.String()
	for _, want := range []string{"nats node started", "store=nats", "nats=embedded", "node=alpha", "nats stream leader"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if d := m.Config.storeDescription(m.nodeName()); !strings.HasPrefix(d, "nats embedded, node alpha") {
		t.Errorf("admin description %q", d)
	}
	// A second syncd on the same -data is refused, saying so.
	if _, _, _, err := startNATS(t, nil, "-data", dir); err == nil || !strings.Contains(err.Error(), "the data directory "+dir+" is in use by another syncd") {
		t.Errorf("a second syncd on the same data: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "nats node stopped") {
		t.Fatalf("no stop logged:\n%s", logs.String())
	}
	// The node is gone: a new one may use the directory, under the kept
	// name.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := natsnode.Start(ctx, natsnode.Options{DataDir: filepath.Join(dir, "nats"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Name() != "alpha" {
		t.Fatalf("kept name %q", n.Name())
	}
}

// TestNATSMessageAllowance: the embedded node's max_payload fits every
// message the store writes for the largest document, which natsstore.New
// checks at start (the two packages keep their allowances apart, so that
// the node needs no store).
func TestNATSMessageAllowance(t *testing.T) {
	for _, d := range []int{1, 1 << 20, 8 << 20, natsnode.MaxDocBytesCeiling} {
		if node, store := natsnode.MaxMessageBytes(d), natsstore.MessageBytes(d); node < store {
			t.Errorf("document of %d bytes: the node allows %d-byte messages, the store writes up to %d", d, node, store)
		}
	}
}

func TestNATSExternal(t *testing.T) {
	o := &server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: t.TempDir(), Authorization: "the-token",
		MaxPayload: int32(natsnode.MaxMessageBytes(1 << 20)),
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	stopped := false
	defer func() {
		if !stopped {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	m, logs, opened := bootNATS(t, map[string]string{"SYNCD_NATS_TOKEN": "the-token"}, "-nats-url", s.ClientURL(), "-nats-replicas", "1")
	if opened.prefix != "syncd" || opened.replicas != 1 {
		t.Fatalf("store opened with %+v", *opened)
	}
	code, body := readyz(t, m)
	if code != http.StatusOK || !strings.Contains(body, "store: nats external, prefix syncd, replicas 1") {
		t.Fatalf("/readyz %d %q", code, body)
	}
	if out := logs.String(); !strings.Contains(out, "connected to NATS") || !strings.Contains(out, "nats=external") {
		t.Fatalf("logs:\n%s", out)
	}
	s.Shutdown()
	s.WaitForShutdown()
	stopped = true
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body = readyz(t, m)
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz %d %q with NATS down", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(body, "NATS connection") || !strings.Contains(body, "store: nats external") {
		t.Fatalf("/readyz body %q", body)
	}
}

// TestNATSEmbeddedCluster: three instances given the same peer list and a
// secret from the environment form a cluster (their Runs return once the
// cluster has a meta leader); each /readyz names its node and the
// cluster, and the store is opened with replicas 3.
func TestNATSEmbeddedCluster(t *testing.T) {
	// Three ports free a moment ago: a route address must be fixed
	// before the nodes start, so port 0 will not do.
	var ports []string
	var lns []net.Listener
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, ln.Addr().String())
		lns = append(lns, ln)
	}
	for _, ln := range lns {
		ln.Close()
	}
	peers := strings.Join(ports, ",")
	env := map[string]string{"SYNCD_CLUSTER_SECRET": "a-cluster-secret-for-the-test"}
	mains := make([]*Main, 3)
	opened := make([]*natsOpened, 3)
	errs := make([]error, 3)
	logs := make([]*syncBuffer, 3)
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			mains[i], logs[i], opened[i], errs[i] = startNATS(t, env, "-data", filepath.Join(dir, strconv.Itoa(i)),
				"-cluster-name", "test", "-cluster-listen", ports[i], "-cluster-peers", peers, "-cluster-node", "node"+strconv.Itoa(i),
				// Three nodes electing on a machine busy with every other
				// package's race tests: more than the default 20 s.
				"-nats-start-timeout", "60s")
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v\nlogs:\n%s", i, err, logs[i].String())
		}
	}
	for i, m := range mains {
		if opened[i].replicas != 3 {
			t.Errorf("instance %d opened its store with %d replicas", i, opened[i].replicas)
		}
		// A stream just created in a new cluster elects its leader within
		// seconds; /readyz says "no leader" until it has.
		code, body := readyz(t, m)
		for deadline := time.Now().Add(30 * time.Second); code != http.StatusOK && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			code, body = readyz(t, m)
		}
		want := "store: nats embedded, node node" + strconv.Itoa(i) + ", cluster test, prefix syncd, replicas 3"
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("instance %d: /readyz %d %q, want %q", i, code, body, want)
		}
		if out := logs[i].String(); !strings.Contains(out, "cluster=test") || !strings.Contains(out, "route_secret=true") {
			t.Errorf("instance %d logs:\n%s", i, out)
		}
	}
}
