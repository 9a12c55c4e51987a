package clustertest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/deltasync/syncd/internal/linearize"
)

// hotDocument is issue 15's hot document: writers on all three instances
// commit to one document as fast as they are answered. Without
// forwarding, the instance that wins the log's conditional appends keeps
// winning and the others' clients starve; with it, the contended
// document's edits go to one instance. Besides runScenario's checks
// (linearizable, converged, nothing acknowledged lost, every commit
// answered), every instance's writers must have every commit
// acknowledged, and some edits must have been forwarded.
func hotDocument(t *testing.T, c *Cluster, doc string) {
	h := runScenarioWith(t, c, doc, func(w *linearize.Workload) {
		w.Writers, w.Commits, w.Pause = 12, 30, 0
	}, nil)

	// Writer i dials instance i mod 3 first (no failover on a healthy
	// cluster); its keys are "w<i>-<j>".
	n := len(c.Nodes)
	acked := make([]int, n)
	lat := make([][]time.Duration, n)
	for _, op := range h.Ops {
		in, out := op.Input.(linearize.Input), op.Output.(linearize.Output)
		if in.Kind != linearize.Commit || out.Unknown || out.Refused {
			continue
		}
		var w, j int
		if _, err := fmt.Sscanf(in.Key, "w%d-%d", &w, &j); err != nil {
			t.Fatalf("key %q: %v", in.Key, err)
		}
		acked[w%n]++
		lat[w%n] = append(lat[w%n], time.Duration(op.Return-op.Call))
	}
	for i := range n {
		slices.Sort(lat[i])
		if acked[i] != 4*30 {
			t.Errorf("instance %d: %d of its writers' %d commits acknowledged", i, acked[i], 4*30)
			continue
		}
		t.Logf("instance %d: %d acknowledged, median %v, p99 %v", i, acked[i], lat[i][len(lat[i])/2], lat[i][len(lat[i])*99/100])
	}
	var forwarded int
	for _, node := range c.Nodes {
		v, ok, err := node.Metric(context.Background(), `syncd_cluster_forwarded_edits_total{direction="out"}`)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			f, _ := strconv.ParseFloat(v, 64)
			forwarded += int(f)
		}
	}
	t.Logf("forwarded edits: %d", forwarded)
	if forwarded == 0 {
		t.Error("no edit was forwarded: the document was never contended, or forwarding is off")
	}
}
