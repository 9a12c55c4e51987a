package clustertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"go.uber.org/goleak"

	"github.com/deltasync/syncd/internal/linearize"
)

// TestMain fails the package if a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestCluster runs three syncd processes, each with an embedded NATS node,
// as one cluster (replicas 3), and puts it through the scenarios
// one after another on one cluster (elections take seconds; a cluster per
// scenario would spend the test budget on them). Each scenario writes its
// own document with concurrent SDK writers spread over all three
// instances (each client knows the three URLs and fails over), readers
// reading through the HTTP API of each instance in turn and through JOIN,
// and checks:
//   - the recorded history is linearizable against a model of one
//     document (porcupine);
//   - every instance shows the same epoch, revision and state, and a log
//     of contiguous revisions in which every edit appears exactly once;
//   - nothing acknowledged is missing.
//
// Faults happen while the writers run.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster of syncd processes; skipped under -short")
	}
	start := time.Now()
	c := Start(t, Options{Args: busArgs})
	t.Logf("cluster of %d nodes serving after %v", len(c.Nodes), time.Since(start).Round(time.Millisecond))

	t.Run("writers through every instance", func(t *testing.T) {
		runScenario(t, c, "cluster/writers", nil)
	})
	t.Run("hot document written through every instance", func(t *testing.T) {
		hotDocument(t, c, "cluster/hot")
	})
	t.Run("SIGKILL of an instance", func(t *testing.T) {
		runScenario(t, c, "cluster/kill", func() error {
			c.Kill(1)
			time.Sleep(300 * time.Millisecond) // writers on n2 notice and fail over
			return c.Restart(1)
		})
	})
	t.Run("SIGKILL of the node leading the stream", func(t *testing.T) {
		runScenario(t, c, "cluster/leader", func() error {
			leader, err := c.StreamLeader(30 * time.Second)
			if err != nil {
				return err
			}
			if err := requireLeaderMetric(c, leader); err != nil {
				return err
			}
			killed := time.Now()
			c.Kill(leader)
			next, err := c.StreamLeader(30*time.Second, leader)
			if err != nil {
				return err
			}
			t.Logf("killed %s, the stream's leader; %s leads after %v", c.Nodes[leader].Name, c.Nodes[next].Name, time.Since(killed).Round(time.Millisecond))
			return c.Restart(leader)
		})
	})
	t.Run("presence of a killed instance's clients", func(t *testing.T) {
		presenceOfKilledInstance(t, c, 0, 1)
	})
	t.Run("one live connection per client id", func(t *testing.T) {
		oneConnectionPerClient(t, c, 1, 2)
	})
	t.Run("full restart of every node", func(t *testing.T) {
		runScenario(t, c, "cluster/restart", func() error {
			for i := range c.Nodes {
				c.Kill(i)
			}
			return c.Restart(0, 1, 2)
		})
		// The documents of the earlier scenarios survived it too.
		docs := written[c]
		for _, doc := range docs[:len(docs)-1] {
			c.WaitConverged(t, doc, 30*time.Second)
			c.RequireConverged(t, doc, nil)
		}
	})
}

// written are the documents the scenarios wrote on each cluster, in
// order (tests run one at a time: no lock).
var written = map[*Cluster][]string{}

// runScenario runs the workload on doc against every instance of c; fault,
// if not nil, runs once the writers have started. Then it checks the
// history and the instances (see TestCluster).
func runScenario(t *testing.T, c *Cluster, doc string, fault func() error) {
	runScenarioWith(t, c, doc, nil, fault)
}

// runScenarioWith is runScenario with the workload changed by tweak (if
// not nil), and returns the recorded history.
func runScenarioWith(t *testing.T, c *Cluster, doc string, tweak func(*linearize.Workload), fault func() error) linearize.History {
	written[c] = append(written[c], doc)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var (
		wg       sync.WaitGroup
		faultErr error
	)
	started := func() {
		if fault == nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(200 * time.Millisecond) // some edits acknowledged before the fault
			faultErr = fault()
		}()
	}
	w := linearize.Workload{
		URLs:    c.URLs(),
		Doc:     doc,
		APIKey:  c.APIKey,
		Writers: 6, Commits: 25,
		Readers: 3, Reads: 25,
		Started: started,
		Pause:   5 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&w)
	}
	h, err := linearize.Run(ctx, w)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if faultErr != nil {
		t.Fatal(faultErr)
	}
	t.Logf("history: %s", h)
	if res, _ := linearize.Check(h); res != porcupine.Ok {
		c.explainAnswers(t, doc, h)
	}
	linearize.Require(t, h)

	var acked []string
	unknown := 0
	for _, op := range h.Ops {
		in, out := op.Input.(linearize.Input), op.Output.(linearize.Output)
		if in.Kind != linearize.Commit {
			continue
		}
		switch {
		case out.Unknown:
			unknown++
		case !out.Refused:
			acked = append(acked, in.Key)
		}
	}
	if fault == nil && unknown > 0 {
		t.Errorf("%d commits without an answer on a healthy cluster", unknown)
	}
	if len(acked) == 0 {
		t.Fatal("no commit was acknowledged")
	}
	c.WaitConverged(t, doc, 30*time.Second)
	head := c.RequireConverged(t, doc, acked)
	t.Logf("%s: head %d, %d acknowledged, %d unknown", doc, head, len(acked), unknown)
	return h
}

// requireLeaderMetric checks syncd_nats_stream_leader on every running
// node: 1 on the leader's, 0 on the others'. (The metric comes from the
// same probe as /readyz's line, taken a moment apart: an election between
// the two would fail the test, and is not expected in a quiet second.)
func requireLeaderMetric(c *Cluster, leader int) error {
	for i, n := range c.Nodes {
		if n.Proc == nil || !n.Proc.Running() {
			continue
		}
		v, ok, err := n.Metric(context.Background(), "syncd_nats_stream_leader")
		if err != nil {
			return err
		}
		want := "0"
		if i == leader {
			want = "1"
		}
		if !ok || v != want {
			return fmt.Errorf("node %s: syncd_nats_stream_leader %q (present %v), want %s (the leader is %s)", n.Name, v, ok, want, c.Nodes[leader].Name)
		}
	}
	return nil
}
