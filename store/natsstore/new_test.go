package natsstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/natsstore"
)

// testConcurrentNew: instances starting at once all open the store, on one
// stream.
func testConcurrentNew(t *testing.T, nc *nats.Conn) {
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			s, err := natsstore.New(context.Background(), nc, natsstore.Options{Prefix: "many"})
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
}

// TestNewChecksMaxPayload: a server whose max_payload cannot carry a
// snapshot of the largest document is refused, with an error that says
// what to change.
func TestNewChecksMaxPayload(t *testing.T) {
	o := nodeOptions(t, "small")
	o.MaxPayload = 512 << 10
	nc := connect(t, startServer(t, o))
	_, err := natsstore.New(context.Background(), nc, natsstore.Options{})
	if err == nil || !strings.Contains(err.Error(), "max_payload") {
		t.Fatalf("New on a server with max_payload 512 KiB: %v, want an error about max_payload", err)
	}
	// Smaller documents fit.
	s, err := natsstore.New(context.Background(), nc, natsstore.Options{MaxDocSize: 128 << 10})
	if err != nil {
		t.Fatalf("New with documents of up to 128 KiB: %v", err)
	}
	s.Close()
}

// TestNewOptions: bad options are refused before anything is created.
func TestNewOptions(t *testing.T) {
	for _, o := range []natsstore.Options{
		{Prefix: "has.dot"},
		{Prefix: "has space"},
		{Replicas: 7},
		{Duplicates: -1},
	} {
		if _, err := natsstore.New(context.Background(), nil, o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

// testOddIDs: document and client ids with the bytes subjects and headers
// cannot carry as they are come back as written.
func testOddIDs(t *testing.T, nc *nats.Conn) {
	ctx := context.Background()
	s, err := natsstore.New(ctx, nc, natsstore.Options{Prefix: "odd"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const e = revision.Epoch("01JODD00000000000000000001")
	for _, c := range []struct{ doc, client string }{
		{"a.b:c/d_e-f", "c l\r\nient:*>."},
		{"*>", "_41"},
	} {
		err := s.Commit(ctx, []syncd.Record{
			{Create: &syncd.CreateRecord{Doc: c.doc, Epoch: e}},
			{Append: &syncd.AppendRecord{Doc: c.doc, Epoch: e, Op: &syncd.Op{Rev: 1, Kind: syncd.OpMerge, Payload: []byte(`{}`), ClientID: c.client, ClientReqID: "r-1"}}},
		})
		if err != nil {
			t.Fatalf("%q: %v", c.doc, err)
		}
		if err := s.Commit(ctx, []syncd.Record{
			{Append: &syncd.AppendRecord{Doc: c.doc, Epoch: e, Op: &syncd.Op{Rev: 2, Kind: syncd.OpMerge, Payload: []byte(`{}`), ClientID: c.client, ClientReqID: "r-2"}}},
		}); err != nil {
			t.Fatalf("%q: %v", c.doc, err)
		}
		sd, err := s.Load(ctx, c.doc)
		if err != nil || len(sd.Tail) != 2 || sd.Tail[1].ClientID != c.client {
			t.Fatalf("%q: %+v, %v", c.doc, sd, err)
		}
		if w, err := s.Watermark(ctx, c.doc, c.client); err != nil || w.ReqID != "r-2" {
			t.Fatalf("%q: watermark %q, %v", c.doc, w.ReqID, err)
		}
	}
	metas, err := s.List(ctx, "", 10)
	if err != nil || len(metas) != 2 || metas[0].Doc != "*>" || metas[1].Doc != "a.b:c/d_e-f" {
		t.Fatalf("List: %+v, %v", metas, err)
	}
}
