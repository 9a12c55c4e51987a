package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/internal/linearize"
)

// externalCutoff is -nats-cutoff in TestExternalNATS: short, so that the
// cut-off scenario runs in seconds.
const externalCutoff = 2 * time.Second

// startNATSServer runs a NATS server in the test process, as an operator's
// external NATS: JetStream on and syncing every write (sync always, as
// docs/guarantees.md asks of external servers), max_payload large enough
// for syncd's default document size, on 127.0.0.1. It stops when the test
// ends.
func startNATSServer(t *testing.T) string {
	t.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{
		ServerName: "external",
		Host:       "127.0.0.1",
		Port:       natsserver.RANDOM_PORT,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		SyncAlways: true,
		MaxPayload: 8 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the NATS server did not start within 10s")
	}
	return srv.Addr().String()
}

// TestExternalNATS runs two syncd instances against one external NATS
// server (syncd -store nats -nats-url), each through a TCP proxy of the
// test's: writers through both instances, checked like TestCluster's
// scenarios; then one instance is cut off from NATS under load, twice:
// its proxy closes the connection (NATS gone), then its proxy stalls it
// (packets dropped: only the watchdog's probe notices). Each time /readyz
// answers 503, after -nats-cutoff its clients are closed with 1013 and
// resume on the other instance, nothing acknowledged is lost and nothing
// is applied twice; when the proxy is restored the instance becomes ready
// again by itself and serves.
func TestExternalNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a NATS server and two syncd processes; skipped under -short")
	}
	natsAddr := startNATSServer(t)
	proxies := []*tcpProxy{startProxy(t, natsAddr), startProxy(t, natsAddr)}
	start := time.Now()
	c := Start(t, Options{
		Nodes:   2,
		NATSURL: func(i int) string { return "nats://" + proxies[i].Addr() },
		Args:    append([]string{"-nats-cutoff", externalCutoff.String()}, busArgs...),
	})
	t.Logf("two instances on external NATS serving after %v", time.Since(start).Round(time.Millisecond))

	t.Run("writers through two instances", func(t *testing.T) {
		runScenario(t, c, "external/writers", nil)
	})
	t.Run("an instance cut off from NATS", func(t *testing.T) {
		cutOffScenario(t, c, "external/cutoff", proxies[0].Cut, proxies[0].Restore)
	})
	t.Run("an instance whose NATS connection goes silent", func(t *testing.T) {
		// Nothing closes the connection: only the watchdog's probe
		// timing out tells the instance it is cut off.
		cutOffScenario(t, c, "external/silent", proxies[0].Stall, proxies[0].Restore)
	})
}

// cutOffScenario runs writers through both instances of c while node 0
// loses NATS (cut) and gets it back (restore): /readyz answers 503, after
// -nats-cutoff its clients are closed with 1013 and resume on node 1, and
// once restored it becomes ready by itself and serves; the history and
// the instances are checked as in every scenario.
func cutOffScenario(t *testing.T, c *Cluster, doc string, cut, restore func()) {
	// Longer writers, so that the load goes on through the cut-off, the
	// restore and after.
	var reconnects atomic.Int64
	longer := func(w *linearize.Workload) {
		w.Commits, w.Pause = 40, 60*time.Millisecond
		w.ClientOptions = func(o *client.Options) {
			o.OnState = func(s client.State, _ error) {
				if s == client.StateConnecting {
					reconnects.Add(1)
				}
			}
		}
	}
	logBefore := len(c.Nodes[0].Proc.Log())
	runScenarioWith(t, c, doc, longer, func() error {
		cut()
		at := time.Now()
		if _, err := c.WaitReady(0, http.StatusServiceUnavailable, 10*time.Second); err != nil {
			return err
		}
		t.Logf("%s not ready %v after the cut", c.Nodes[0].Name, time.Since(at).Round(time.Millisecond))
		if err := waitWSRefused(c.Nodes[0], externalCutoff+5*time.Second); err != nil {
			return err
		}
		t.Logf("%s refuses WebSockets %v after the cut (cut-off %v)", c.Nodes[0].Name, time.Since(at).Round(time.Millisecond), externalCutoff)
		restore()
		restored := time.Now()
		if _, err := c.WaitReady(0, http.StatusOK, 30*time.Second); err != nil {
			return err
		}
		t.Logf("%s ready again %v after the restore", c.Nodes[0].Name, time.Since(restored).Round(time.Millisecond))
		return nil
	})
	// The clients of the cut-off instance were sent away, by the cut-off
	// (not by a crash: the process lives).
	if n := reconnects.Load(); n == 0 {
		t.Error("no client reconnected: the cut-off instance's clients were not sent away")
	} else {
		t.Logf("%d reconnects of the workload's clients", n)
	}
	if log := c.Nodes[0].Proc.Log()[logBefore:]; !strings.Contains(log, "cut off from NATS") || !c.Nodes[0].Proc.Running() {
		t.Errorf("%s did not log its cut-off, or exited:\n%s", c.Nodes[0].Name, log)
	}
	// The instance serves again: a client of its own commits there.
	requireServes(t, c.Nodes[0], doc+"-after")
}

// waitWSRefused waits (bounded) until a WebSocket upgrade at n is refused
// with 503: the instance is cut off.
func waitWSRefused(n *Node, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ws, resp, err := websocket.DefaultDialer.Dial(n.WS(), nil)
		if err == nil {
			ws.Close()
		} else if resp != nil && resp.StatusCode == http.StatusServiceUnavailable {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still accepts WebSockets %v after the cut (last error %v)", n.Name, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requireServes checks that a client of n alone joins doc and has an edit
// acknowledged within 10 s.
func requireServes(t *testing.T, n *Node, doc string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := dialOne(t, n)
	d, err := cl.Join(ctx, doc)
	if err != nil {
		t.Fatalf("%s: join %s: %v", n.Name, doc, err)
	}
	if _, err := d.Merge(map[string]any{"served": true}); err != nil {
		t.Fatalf("%s: edit %s: %v", n.Name, doc, err)
	}
	if err := d.Settled(ctx); err != nil {
		t.Fatalf("%s: the edit on %s was not settled: %v", n.Name, doc, err)
	}
	if v, _ := d.Confirmed().(map[string]any); v["served"] != true {
		t.Fatalf("%s: the edit on %s was refused: the document is %v", n.Name, doc, d.Confirmed())
	}
}
