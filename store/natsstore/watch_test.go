package natsstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
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
	stop1 := s.Watch("doc", func(syncd.StoredChange) {
		if stopped.Load() {
			afterStop.Add(1)
		}
	})
	told := make(chan struct{}, 1)
	stop2 := s.Watch("doc", func(syncd.StoredChange) {
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

// testWatchTellsOps: a watch is passed the operations each append stored,
// so that the engine need not read them back; a create is not Complete.
func testWatchTellsOps(t *testing.T, nc *nats.Conn) {
	ctx := context.Background()
	s, err := natsstore.New(ctx, nc, natsstore.Options{Prefix: "watchops"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	calls := make(chan syncd.StoredChange, 16)
	stop := s.Watch("doc", func(c syncd.StoredChange) { calls <- c })
	defer stop()
	next := func() syncd.StoredChange {
		t.Helper()
		select {
		case c := <-calls:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("the watch was not called")
			return syncd.StoredChange{}
		}
	}
	const epoch = "01JWATCH000000000000000002"
	if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "doc", Epoch: epoch}}}); err != nil {
		t.Fatal(err)
	}
	// The first call may be the consumer's start (incomplete); the
	// create's is incomplete too.
	for c := next(); c.Complete; c = next() {
		t.Fatalf("the create was told as Complete: %+v", c)
	}
	op := func(rev revision.Rev) syncd.Record {
		return syncd.Record{Append: &syncd.AppendRecord{Doc: "doc", Epoch: epoch, Op: &syncd.Op{Rev: rev, Kind: syncd.OpMerge, Payload: []byte(`{"a":1}`), ClientID: "c", ClientReqID: fmt.Sprintf("r-%d", rev), Time: 7}}}
	}
	if err := s.Commit(ctx, []syncd.Record{op(1), op(2)}); err != nil {
		t.Fatal(err)
	}
	c := next()
	for !c.Complete { // a late start notice
		c = next()
	}
	if c.Epoch != epoch || len(c.Ops) != 2 || c.Ops[0].Rev != 1 || c.Ops[1].Rev != 2 || c.Ops[1].ClientReqID != "r-2" || string(c.Ops[1].Payload) != `{"a":1}` || c.Ops[1].Time != 7 {
		t.Fatalf("two appends told as %+v", c)
	}
}
