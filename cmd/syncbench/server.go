package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverProc is the server under test, a child process. A nil or pid-0
// serverProc (a server in this process, in tests) measures nothing.
type serverProc struct {
	cmd     *exec.Cmd
	pid     int
	addr    string
	relay   bool
	dataDir string
	// peers are a cluster's other instances (store nats3): their CPU and
	// memory count with this one's, and stop stops them too.
	peers []*serverProc
}

// addrs are the instances' host:ports, this one first.
func (s *serverProc) addrs() []string {
	a := []string{s.addr}
	for _, p := range s.peers {
		a = append(a, p.addr)
	}
	return a
}

// clusterSecret is the route secret of a benchmark's cluster (loopback
// only; the nodes refuse to route without one).
const clusterSecret = "syncbench-route-secret-0123456789"

// syncdFlags are the limits syncd must lift for a load generator: its
// defaults are per-connection flood guards for real clients (200
// messages/s, 100 UPDATEs/s, 8 MiB queued, 256 connections per address),
// which one benchmark writer sending as fast as acknowledged, or a
// thousand subscribers from one address, would hit at once.
var syncdFlags = []string{
	"-rate", "1000000",
	"-update-rate", "1000000",
	"-queue-bytes", strconv.Itoa(256 << 20),
	// Every generator connection comes from 127.0.0.1: the per-address
	// cap (256, a guard against one client taking the server) would
	// refuse the 257th subscriber.
	"-max-conns-per-addr", "1000000",
	"-log-level", "warn",
}

// startServer starts syncd (store "bolt", "memory", "nats") or the relay on
// a free loopback port, pinned to CPU 0 when pin is set, and waits until it
// accepts connections. Store "nats3" starts three syncd processes as one
// cluster (startCluster).
func startServer(ctx context.Context, kind, store, syncdBin string, pin bool) (*serverProc, error) {
	if kind == "syncd" && store == "nats3" {
		return startCluster(ctx, syncdBin, pin, 3)
	}
	return launch(ctx, kind, store, syncdBin, pin, nil)
}

// startCluster starts n syncd processes with embedded NATS nodes forming
// one cluster, all pinned to CPU 0 with pin (the machine's other core runs
// the generator), launched together (each waits for a quorum before it
// serves), and waits until all accept connections.
func startCluster(ctx context.Context, syncdBin string, pin bool, n int) (*serverProc, error) {
	routes := make([]string, n)
	for i := range routes {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		routes[i] = a
	}
	type started struct {
		s   *serverProc
		err error
	}
	results := make(chan started, n)
	for i := range n {
		extra := []string{
			"-store", "nats",
			"-cluster-name", "syncbench",
			"-cluster-node", fmt.Sprintf("bench%d", i+1),
			"-cluster-listen", routes[i],
			"-cluster-peers", strings.Join(routes, ","),
			"-nats-replicas", fmt.Sprint(min(n, 3)),
		}
		go func() {
			s, err := launch(ctx, "syncd", "", syncdBin, pin, extra)
			results <- started{s, err}
		}()
	}
	var nodes []*serverProc
	var firstErr error
	for range n {
		r := <-results
		if r.err != nil && firstErr == nil {
			firstErr = r.err
		}
		if r.s != nil {
			nodes = append(nodes, r.s)
		}
	}
	if firstErr != nil {
		for _, s := range nodes {
			s.stop()
		}
		return nil, firstErr
	}
	nodes[0].peers = nodes[1:]
	return nodes[0], nil
}

// launch starts one server process; extra, for syncd, replaces "-store
// store" with its own flags.
func launch(ctx context.Context, kind, store, syncdBin string, pin bool, extra []string) (*serverProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &serverProc{addr: addr, relay: kind == "relay"}
	var args, env []string
	switch kind {
	case "relay":
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		args = []string{self, "relay", "-addr", addr}
	case "syncd":
		s.dataDir, err = os.MkdirTemp("", "syncbench-data-")
		if err != nil {
			return nil, err
		}
		args = []string{syncdBin, "-addr", addr, "-data", s.dataDir}
		if extra == nil {
			args = append(args, "-store", store)
		}
		args = append(append(args, extra...), syncdFlags...)
		if extra != nil { // a cluster node: its routes need the secret
			env = append(os.Environ(), "SYNCD_CLUSTER_SECRET="+clusterSecret)
		}
	default:
		return nil, fmt.Errorf("unknown server %q (want syncd or relay)", kind)
	}
	if pin && haveTaskset() {
		args = append([]string{"taskset", "-c", "0"}, args...)
	}
	s.cmd = exec.Command(args[0], args[1:]...) // not CommandContext: stop ends it
	s.cmd.Env = env
	s.cmd.Stdout = os.Stderr
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		s.stop()
		return nil, err
	}
	s.pid = s.cmd.Process.Pid                        // taskset execs the server: same pid
	for end := time.Now().Add(60 * time.Second); ; { // a cluster node waits for an election
		err := s.ready(ctx)
		if err == nil {
			return s, nil
		}
		if time.Now().After(end) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("%s did not start on %s: %w", kind, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ready reports whether the server takes clients: the relay once it
// accepts connections, syncd once /readyz answers 200. A cluster node
// accepts connections before its stream has a leader, and a JOIN then is
// refused UNAVAILABLE (retryable), which would fail the run's connect.
func (s *serverProc) ready(ctx context.Context) error {
	if s.relay {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://"+s.addr+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz answered %s", resp.Status)
	}
	return nil
}

// stop ends the server (and a cluster's other instances): SIGTERM (syncd
// shuts down cleanly), then SIGKILL after 10 s.
func (s *serverProc) stop() {
	for _, p := range s.peers {
		p.stop()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
	}
	if s.dataDir != "" {
		os.RemoveAll(s.dataDir)
	}
}

// cpu is the CPU seconds the server has used: a cluster's, all of its
// instances'.
func (s *serverProc) cpu() (float64, error) {
	if s == nil || s.pid == 0 {
		return 0, nil
	}
	sum, err := procCPU(s.pid)
	for _, p := range s.peers {
		c, perr := procCPU(p.pid)
		sum += c
		err = errors.Join(err, perr)
	}
	return sum, err
}

// rss is the server's resident memory: a cluster's, the sum of its
// instances'.
func (s *serverProc) rss() (int64, error) {
	if s == nil || s.pid == 0 {
		return 0, nil
	}
	sum, err := procRSS(s.pid)
	for _, p := range s.peers {
		r, perr := procRSS(p.pid)
		sum += r
		err = errors.Join(err, perr)
	}
	return sum, err
}

var statsClient = http.Client{Timeout: 2 * time.Second}

// relayStats reads the relay's counters (zero for syncd).
func (s *serverProc) relayStats() relayStats {
	var st relayStats
	if s == nil || !s.relay {
		return st
	}
	resp, err := statsClient.Get("http://" + s.addr + "/stats")
	if err != nil {
		return st
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&st)
	return st
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func haveTaskset() bool {
	_, err := exec.LookPath("taskset")
	return err == nil
}

// pinSelf moves every thread of this process to CPU 1 (the server has CPU
// 0); threads created later inherit it.
func pinSelf() error { return pinSelfTo("1") }

// pinSelfTo moves every thread of this process to the CPUs listed.
func pinSelfTo(cpus string) error {
	if !haveTaskset() {
		return fmt.Errorf("no taskset: not pinned")
	}
	return exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(os.Getpid())).Run()
}

// buildSyncd builds cmd/syncd into dir with the go tool (run from inside
// the module).
func buildSyncd(dir string) (string, error) {
	bin := filepath.Join(dir, "syncd")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/deltasync/syncd/cmd/syncd")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build cmd/syncd: %w", err)
	}
	return bin, nil
}
