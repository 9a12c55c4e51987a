package natsstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

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
