package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// DocView is a document as one node's HTTP API shows it.
type DocView struct {
	Epoch string                     `json:"epoch"`
	Rev   uint64                     `json:"rev"`
	State map[string]json.RawMessage `json:"state"`
}

// OpView is one operation of GET /v1/docs/{id}/ops.
type OpView struct {
	Rev         uint64          `json:"rev"`
	Type        string          `json:"type"`
	Payload     json.RawMessage `json:"payload"`
	ClientID    string          `json:"clientId"`
	ClientReqID string          `json:"clientReqId"`
}

// GetDoc reads doc from the node at base.
func (c *Cluster) GetDoc(ctx context.Context, base, doc string) (DocView, error) {
	var v DocView
	err := c.getJSON(ctx, base+"/v1/docs/"+url.PathEscape(doc), &v)
	return v, err
}

// GetOps reads doc's whole log (every operation from revision 1) from the
// node at base, page by page.
func (c *Cluster) GetOps(ctx context.Context, base, doc string) ([]OpView, error) {
	var all []OpView
	for page := 0; page < 1000; page++ {
		var r struct {
			Head       uint64   `json:"head"`
			Operations []OpView `json:"operations"`
		}
		after := uint64(0)
		if len(all) > 0 {
			after = all[len(all)-1].Rev
		}
		u := fmt.Sprintf("%s/v1/docs/%s/ops?after=%d&limit=10000", base, url.PathEscape(doc), after)
		if err := c.getJSON(ctx, u, &r); err != nil {
			return nil, err
		}
		all = append(all, r.Operations...)
		if len(r.Operations) == 0 || r.Operations[len(r.Operations)-1].Rev >= r.Head {
			return all, nil
		}
	}
	return nil, fmt.Errorf("GetOps %s: more than 1000 pages", doc)
}

func (c *Cluster) getJSON(ctx context.Context, u string, into any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", c.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %.300s", u, resp.StatusCode, body)
	}
	return json.Unmarshal(body, into)
}

// RequireConverged checks doc on every running node: the same epoch,
// revision and state everywhere; a log of contiguous revisions 1…head in
// which every key of the workload (a merge patch setting one key) is set
// exactly once and the state holds exactly the keys the log set; and
// every key in acked present. It returns the head.
func (c *Cluster) RequireConverged(t testing.TB, doc string, acked []string) uint64 {
	t.Helper()
	ctx := context.Background()
	var first *DocView
	var firstNode string
	for _, n := range c.Nodes {
		if n.Proc == nil || !n.Proc.Running() {
			continue
		}
		v, err := c.GetDoc(ctx, n.URL(), doc)
		if err != nil {
			t.Fatalf("node %s: %v", n.Name, err)
		}
		if first == nil {
			first, firstNode = &v, n.Name
			continue
		}
		if v.Epoch != first.Epoch || v.Rev != first.Rev || !reflect.DeepEqual(v.State, first.State) {
			t.Fatalf("node %s shows %s@%d with %d keys, node %s %s@%d with %d keys",
				n.Name, v.Epoch, v.Rev, len(v.State), firstNode, first.Epoch, first.Rev, len(first.State))
		}
	}
	if first == nil {
		t.Fatal("no node is running")
	}
	for _, n := range c.Nodes {
		if n.Proc == nil || !n.Proc.Running() {
			continue
		}
		ops, err := c.GetOps(ctx, n.URL(), doc)
		if err != nil {
			t.Fatalf("node %s: %v", n.Name, err)
		}
		set := map[string]uint64{}
		for i, op := range ops {
			if op.Rev != uint64(i)+1 {
				t.Fatalf("node %s: operation %d has revision %d: the log is not contiguous from 1", n.Name, i, op.Rev)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(op.Payload, &m); err != nil {
				t.Fatalf("node %s: revision %d: payload %s: %v", n.Name, op.Rev, op.Payload, err)
			}
			for k := range m {
				if prev, dup := set[k]; dup {
					t.Fatalf("node %s: key %s set at revisions %d and %d: an edit applied twice", n.Name, k, prev, op.Rev)
				}
				set[k] = op.Rev
			}
		}
		if uint64(len(ops)) != first.Rev {
			t.Fatalf("node %s: %d operations, head %d", n.Name, len(ops), first.Rev)
		}
		if len(set) != len(first.State) {
			t.Fatalf("node %s: the log sets %d keys, the state has %d", n.Name, len(set), len(first.State))
		}
	}
	var missing []string
	for _, k := range acked {
		if _, ok := first.State[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d acknowledged edits lost: %s", len(missing), strings.Join(missing, ", "))
	}
	return first.Rev
}

// WaitConverged waits (bounded) until every running node shows doc at the
// same revision, the way a client moving between nodes would: reads are
// never stale, so this should hold at once; the wait only covers nodes
// that are still starting.
func (c *Cluster) WaitConverged(t testing.TB, doc string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		revs := map[uint64]bool{}
		var errs []string
		for _, n := range c.Nodes {
			if n.Proc == nil || !n.Proc.Running() {
				continue
			}
			v, err := c.GetDoc(context.Background(), n.URL(), doc)
			if err != nil {
				errs = append(errs, n.Name+": "+err.Error())
				continue
			}
			revs[v.Rev] = true
		}
		if len(errs) == 0 && len(revs) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes did not converge on %s within %v: revisions %v, errors %v", doc, timeout, revs, errs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
