package natsstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/natsstore"
)

func TestSpeed(t *testing.T) {
	nc := connect(t, startNode(t))
	ctx := context.Background()
	s, err := natsstore.New(ctx, nc, natsstore.Options{Prefix: "speed"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "d", Epoch: "E"}}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 1; i <= 200; i++ {
		if err := s.Commit(ctx, []syncd.Record{{Append: &syncd.AppendRecord{Doc: "d", Epoch: "E", Op: &syncd.Op{Rev: revOf(i), Kind: syncd.OpMerge, Payload: []byte(`{"a":1}`)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("commit: %v each", time.Since(start)/200)
	start = time.Now()
	for range 50 {
		if _, _, err := s.Head(ctx, "d"); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("head: %v each", time.Since(start)/50)
	start = time.Now()
	for range 20 {
		if _, err := s.Load(ctx, "d"); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("load of 200 messages: %v each", time.Since(start)/20)
}

func revOf(i int) revision.Rev { return revision.Rev(i) }
