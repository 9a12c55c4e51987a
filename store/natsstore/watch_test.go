package natsstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/natsstore"
)

// testWatchStop: after stop returns, changed is not called again. The
// store calls every watch from one goroutine in the order the stream
// stored the messages, so once a second watch on the document has been
// told of a commit made after the stop, the first would have been called
// by then.
func testWatchStop(t *testing.T, nc *nats.Conn) {
	ctx := context.Background()
	s, err := natsstore.New(ctx, nc, natsstore.Options{Prefix: "watchstop"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stopped atomic.Bool
	var afterStop atomic.Int32
	stop1 := s.Watch("doc", func() {
		if stopped.Load() {
			afterStop.Add(1)
		}
	})
	told := make(chan struct{}, 1)
	stop2 := s.Watch("doc", func() {
		select {
		case told <- struct{}{}:
		default:
		}
	})
	defer stop2()
	if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "doc", Epoch: "01JWATCH000000000000000001"}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-told:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch was not told of the create")
	}
	stop1()
	stopped.Store(true)
	// Drain, commit, and wait for the second watch to hear of it.
	select {
	case <-told:
	default:
	}
	if err := s.Commit(ctx, []syncd.Record{{Delete: &syncd.DeleteRecord{Doc: "doc"}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-told:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch was not told of the delete")
	}
	if n := afterStop.Load(); n != 0 {
		t.Fatalf("a stopped watch was called %d times", n)
	}
}
