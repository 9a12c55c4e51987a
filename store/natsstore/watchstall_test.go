package natsstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/natsstore"
)

// TestWatchConsumerStallIsRepaired: a watch consumer that stops delivering
// while messages wait for it (here stopped under the watcher, as an
// ordered consumer that never made itself again would be) is made again,
// and the watches hear of what was stored.
func TestWatchConsumerStallIsRepaired(t *testing.T) {
	ctx := context.Background()
	nc := connect(t, startNode(t))
	s, err := natsstore.New(ctx, nc, natsstore.Options{Prefix: "watchstall"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var once sync.Once
	natsstore.StallWatchAfterStart(s, 100*time.Millisecond, func(cc jetstream.ConsumeContext) {
		once.Do(cc.Stop) // the first consumer only
	})
	calls := make(chan syncd.StoredChange, 16)
	stop := s.Watch("doc", func(c syncd.StoredChange) { calls <- c })
	defer stop()
	<-calls // the start's notice
	if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "doc", Epoch: "01JWSTALL00000000000000001"}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-calls:
	case <-time.After(20 * time.Second):
		t.Fatalf("the watch never heard of the create (watch restarts: %d)", s.Stats().WatchRestarts)
	}
	if n := s.Stats().WatchRestarts; n != 1 {
		t.Errorf("%d watch restarts, want 1", n)
	}
}
