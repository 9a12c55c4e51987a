package natsstore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/natsstore"
)

// testAppendStats checks the counters the server's metrics read
// (syncd.AppendStatser): every append ends counted under one outcome.
func testAppendStats(t *testing.T, nc *nats.Conn, prefix string) {
	ctx := context.Background()
	const e = revision.Epoch("01JSTAT0000000000000000001")
	var refuse atomic.Bool
	s := lossyStore(t, nc, prefix, time.Second, func(ctx context.Context, m *nats.Msg, real natsstore.PublishFunc) (*jetstream.PubAck, error) {
		if refuse.Load() {
			// The server refuses the only copy sent: not stored, no
			// conflict, not unknown.
			return nil, &jetstream.APIError{Code: 400, ErrorCode: 10999, Description: "refused for the test"}
		}
		return real(ctx, m)
	})
	var st syncd.AppendStatser = s // what the server checks for
	if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "d", Epoch: e}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, []syncd.Record{appendRec("d", e, 1, "c1", "r-1")}); err != nil {
		t.Fatal(err)
	}
	if got := st.AppendStats(); got != (syncd.AppendStats{OK: 2}) {
		t.Fatalf("after two appends: %+v", got)
	}

	err := s.Commit(ctx, []syncd.Record{appendRec("d", e, 1, "c2", "r-1")}) // revision 1 is taken
	if !errors.Is(err, syncd.ErrConflict) {
		t.Fatalf("append at a taken revision: %v, want a conflict", err)
	}
	if got := st.AppendStats(); got != (syncd.AppendStats{OK: 2, Conflicts: 1}) {
		t.Fatalf("after a conflict: %+v", got)
	}

	refuse.Store(true)
	err = s.Commit(ctx, []syncd.Record{appendRec("d", e, 2, "c1", "r-2")})
	if err == nil || errors.Is(err, syncd.ErrConflict) || errors.Is(err, syncd.ErrOutcomeUnknown) {
		t.Fatalf("append the server refused: %v, want a plain failure", err)
	}
	if got := st.AppendStats(); got != (syncd.AppendStats{OK: 2, Conflicts: 1, Failed: 1}) {
		t.Fatalf("after a refused publish: %+v", got)
	}
	if got := s.Stats(); got.Failed != 1 || got.Appends != 2 {
		t.Fatalf("Stats %+v disagree with AppendStats", got)
	}
}
