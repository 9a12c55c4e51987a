package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/deltasync/syncd/internal/linearize"
)

// explainAnswers logs, for a history that failed its check, every commit
// whose answer disagrees with doc's log as a running node shows it (applied
// at another revision, refused or unknown but in the log, acknowledged
// but absent), with the client's note: the first place to look.
func (c *Cluster) explainAnswers(t testing.TB, doc string, h linearize.History) {
	t.Helper()
	var ops []OpView
	for _, n := range c.Nodes {
		if n.Proc == nil || !n.Proc.Running() {
			continue
		}
		var err error
		if ops, err = c.GetOps(context.Background(), n.URL(), doc); err == nil {
			break
		}
		t.Logf("explain: node %s: %v", n.Name, err)
	}
	logged := map[string][]uint64{}
	reqs := map[string][]string{} // the client request ids that set each key
	for _, op := range ops {
		var m map[string]json.RawMessage
		if json.Unmarshal(op.Payload, &m) == nil {
			for k := range m {
				logged[k] = append(logged[k], op.Rev)
				reqs[k] = append(reqs[k], op.ClientID+"/"+op.ClientReqID)
			}
		}
	}
	for _, op := range h.Ops {
		in, out := op.Input.(linearize.Input), op.Output.(linearize.Output)
		if in.Kind != linearize.Commit {
			continue
		}
		revs := logged[in.Key]
		var answer string
		switch {
		case out.Unknown:
			answer = "unknown"
		case out.Refused:
			answer = "refused"
		default:
			answer = fmt.Sprintf("rev %d", out.Rev)
		}
		agrees := (out.Unknown && len(revs) <= 1) || (out.Refused && len(revs) == 0) ||
			(!out.Unknown && !out.Refused && len(revs) == 1 && revs[0] == out.Rev)
		if !agrees {
			t.Logf("explain: %s answered %s, in the log at %v by %v (client %d; %s)", in.Key, answer, revs, reqs[in.Key], op.ClientId, op.Metadata)
		}
	}
}
