package cluster_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/deltasync/syncd/examples/cluster"
	"github.com/deltasync/syncd/internal/clustertest"
	"github.com/deltasync/syncd/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestTallyAcrossACluster runs the example as the README does: three syncd
// processes as one cluster, two voters each starting on a different
// instance with all three URLs. The first voter's instance is killed
// (SIGKILL) while they vote; both finish, every vote counted once, and
// every surviving instance shows the same tally.
func TestTallyAcrossACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster of syncd processes; skipped under -short")
	}
	c := clustertest.Start(t, clustertest.Options{})
	ws := func(first int) []string {
		var urls []string
		for i := range c.Nodes {
			urls = append(urls, c.Nodes[(first+i)%len(c.Nodes)].WS())
		}
		return urls
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const votes = 20
	type result struct {
		tally cluster.Tally
		n     int
		err   error
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i, name := range []string{"ann", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tl, n, err := cluster.Run(ctx, cluster.Options{URLs: ws(i), Name: name, Every: 25 * time.Millisecond, Votes: votes})
			results[i] = result{tl, n, err}
		}()
	}
	time.Sleep(200 * time.Millisecond) // some votes in
	c.Kill(0)                          // ann's instance
	wg.Wait()
	for i, r := range results {
		if r.err != nil || r.n != votes {
			t.Fatalf("voter %d: %d votes, %v", i, r.n, r.err)
		}
	}
	c.WaitConverged(t, "tally:demo", 30*time.Second)
	for _, n := range c.Nodes[1:] {
		v, err := c.GetDoc(ctx, n.URL(), "tally:demo")
		if err != nil {
			t.Fatal(err)
		}
		var got cluster.Tally
		for name, raw := range v.State {
			var k int
			if err := json.Unmarshal(raw, &k); err != nil {
				t.Fatal(err)
			}
			if got == nil {
				got = cluster.Tally{}
			}
			got[name] = k
		}
		if got["ann"] != votes || got["bob"] != votes || len(got) != 2 {
			t.Fatalf("node %s: tally %s, want ann=%d bob=%d", n.Name, got, votes, votes)
		}
	}
}

// TestTallyWhenInterrupted: a voter stopped before its last vote (Ctrl-C
// in cmd/tally, which prints the tally Run returns) gets the tally as it
// stands, its own votes included, not the one read when it joined.
func TestTallyWhenInterrupted(t *testing.T) {
	srv := testenv.Start(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	tl, n, err := cluster.Run(ctx, cluster.Options{URLs: []string{srv.URL}, Name: "ann", Every: 20 * time.Millisecond})
	if err != context.DeadlineExceeded {
		t.Fatalf("Run: %v, want the context's end", err)
	}
	if n == 0 || tl["ann"] != n {
		t.Fatalf("interrupted after %d votes: tally %q, want ann=%d", n, tl, n)
	}
}
