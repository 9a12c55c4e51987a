package natsnode

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd/internal/clustertest"
)

// logBuffer collects a node's logs for the test to read; unlike t.Log, it
// may be written after the test ends.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// freePorts returns n TCP ports free on 127.0.0.1 a moment ago. (A route
// address must be known before the node starts, so port 0 will not do.)
// They are below the system's ephemeral range, where the local ends of
// outgoing connections (this machine's other tests) are not taken.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	return clustertest.FreePorts(t, n)
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// waitUntil polls cond until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("not %s within %v", what, d)
		case <-tick.C:
		}
	}
}

// startNodes starts nodes concurrently (a cluster node waits in Start for
// its peers) and returns them, or the first error.
func startNodes(t *testing.T, opts []Options) ([]*Node, []error) {
	t.Helper()
	nodes := make([]*Node, len(opts))
	errs := make([]error, len(opts))
	var wg sync.WaitGroup
	for i, o := range opts {
		wg.Go(func() { nodes[i], errs[i] = Start(context.Background(), o) })
	}
	wg.Wait()
	for _, n := range nodes {
		if n != nil {
			t.Cleanup(func() { n.Close() })
		}
	}
	return nodes, errs
}

// startOnFreePorts starts the nodes build describes on n free ports, with
// their data under a fresh directory. A port is free when picked, not
// necessarily when the node listens: another process (a parallel test
// package) may take it in between. So when a node could not bind, every
// node is stopped and the set starts again on new ports, at most three
// times. It returns the ports the nodes run on.
func startOnFreePorts(t *testing.T, n int, build func(ports []int, dir string) []Options) ([]int, []*Node, []error) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		ports := freePorts(t, n)
		nodes, errs := startNodes(t, build(ports, t.TempDir()))
		if attempt == 3 || !addrInUse(errors.Join(errs...)) {
			return ports, nodes, errs
		}
		t.Logf("a port was taken before its node listened (attempt %d): starting again on others: %v", attempt, errors.Join(errs...))
		for _, node := range nodes {
			if node != nil {
				node.Close()
			}
		}
	}
}

func addrInUse(err error) bool {
	return err != nil && strings.Contains(err.Error(), "address already in use")
}
