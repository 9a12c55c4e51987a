package clustertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Readyz returns the status and body of the node's /readyz.
func (n *Node) Readyz(ctx context.Context) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/readyz", nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(body), err
}

// streamLeaderLine starts the line of /readyz that names the node leading
// the stream (cmd/syncd's NATS watchdog).
const streamLeaderLine = "stream leader: "

// StreamLeader returns the index of the node that leads the document
// stream, as the running nodes' /readyz say: it waits (bounded by
// timeout) until every running node is ready and names the same leader,
// which is running and not skip. Elections take seconds, so this is how a
// test waits for one to finish.
func (c *Cluster) StreamLeader(timeout time.Duration, skip ...int) (int, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		idx, err := c.streamLeaderNow(skip)
		if err == nil {
			return idx, nil
		}
		last = err
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("no agreed stream leader within %v: %w", timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) streamLeaderNow(skip []int) (int, error) {
	leader := ""
	for _, n := range c.Nodes {
		if n.Proc == nil || !n.Proc.Running() {
			continue
		}
		code, body, err := n.Readyz(context.Background())
		if err != nil {
			return -1, fmt.Errorf("node %s: %w", n.Name, err)
		}
		if code != http.StatusOK {
			return -1, fmt.Errorf("node %s: /readyz %d: %s", n.Name, code, strings.TrimSpace(body))
		}
		name := ""
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, streamLeaderLine); ok {
				name = v
			}
		}
		switch {
		case name == "":
			return -1, fmt.Errorf("node %s: /readyz names no stream leader yet", n.Name)
		case leader == "":
			leader = name
		case name != leader:
			return -1, fmt.Errorf("node %s says the stream leader is %s, another node %s", n.Name, name, leader)
		}
	}
	if leader == "" {
		return -1, errors.New("no node is running")
	}
	for i, n := range c.Nodes {
		if n.Name != leader {
			continue
		}
		for _, s := range skip {
			if s == i {
				return -1, fmt.Errorf("the stream leader is still %s", leader)
			}
		}
		if n.Proc == nil || !n.Proc.Running() {
			return -1, fmt.Errorf("the stream leader %s is not running", leader)
		}
		return i, nil
	}
	return -1, fmt.Errorf("the stream leader %s is not a node of the cluster", leader)
}

// WaitReady waits (bounded) until node i's /readyz answers want (200 or
// 503), and returns the last body.
func (c *Cluster) WaitReady(i int, want int, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		code, body, err := c.Nodes[i].Readyz(context.Background())
		if err == nil && code == want {
			return body, nil
		}
		if time.Now().After(deadline) {
			return body, fmt.Errorf("node %s: /readyz did not answer %d within %v (last %d %q, %v)", c.Nodes[i].Name, want, timeout, code, body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Metric returns the value of an unlabelled metric on the node's /metrics
// (Prometheus text format), and whether it is there.
func (n *Node) Metric(ctx context.Context, name string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/metrics", nil)
	if err != nil {
		return "", false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", false, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v, true, nil
		}
	}
	return "", false, nil
}
