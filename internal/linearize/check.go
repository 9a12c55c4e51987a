package linearize

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// CheckTimeout bounds one check. The histories the tests record (a few
// hundred operations, a handful of clients) check in milliseconds; a
// check that runs out of time is reported, not taken as a pass.
const CheckTimeout = 30 * time.Second

// History is a recorded run: the document's state when recording began,
// and the operations.
type History struct {
	Init State
	Ops  []porcupine.Operation
}

// Check checks h against the model of one document. It returns
// porcupine.Ok, porcupine.Illegal, or porcupine.Unknown if it ran out of
// time, and the information a visualization needs.
func Check(h History) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	return porcupine.CheckOperationsVerbose(Model(h.Init), h.Ops, CheckTimeout)
}

// Require fails t unless h is linearizable. When it is not, it writes
// porcupine's visualization (an HTML page showing the longest orders the
// checker could find and where each broke) to t.ArtifactDir() and names
// the file in the failure. That directory is a t.TempDir() (removed when
// the test ends) unless the test runs with -artifacts, which keeps it:
//
//	mkdir -p /tmp/out && go test -run TestSyncdIsLinearizable -artifacts -outputdir /tmp/out ./internal/linearize/
func Require(t testing.TB, h History) {
	t.Helper()
	res, info := Check(h)
	switch res {
	case porcupine.Ok:
		return
	case porcupine.Unknown:
		t.Fatalf("linearizability check of %d operations did not finish within %v", len(h.Ops), CheckTimeout)
		return
	}
	path := filepath.Join(t.ArtifactDir(), "linearizability.html")
	if err := porcupine.VisualizePath(Model(h.Init), info, path); err != nil {
		t.Fatalf("history of %d operations is NOT linearizable; writing the visualization failed: %v", len(h.Ops), err)
		return
	}
	t.Fatalf("history of %d operations is NOT linearizable: see %s (open it in a browser; run with -artifacts to keep it)", len(h.Ops), path)
}

// String summarises h for logs.
func (h History) String() string {
	commits, reads, unknown := 0, 0, 0
	for _, op := range h.Ops {
		switch {
		case op.Input.(Input).Kind == Read:
			reads++
		case op.Output.(Output).Unknown:
			unknown++
		default:
			commits++
		}
	}
	return fmt.Sprintf("%d commits answered, %d with unknown outcome, %d reads", commits, unknown, reads)
}
