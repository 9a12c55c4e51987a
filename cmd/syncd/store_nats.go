package main

import (
	"context"

	"github.com/nats-io/nats.go"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/natsstore"
)

// openNATSStore opens the JetStream store (store/natsstore) on nc, with its
// stream and subjects under prefix, replicas copies of each record, and
// messages large enough for a snapshot of a maxDocBytes document. It is the
// one place cmd/syncd names the store's package, so that the rest of -store
// nats (the node, the connection, the shutdown) stands without it.
func openNATSStore(ctx context.Context, nc *nats.Conn, prefix string, replicas, maxDocBytes int) (syncd.Store, error) {
	s, err := natsstore.New(ctx, nc, natsstore.Options{Prefix: prefix, Replicas: replicas, MaxDocSize: maxDocBytes})
	if err != nil {
		return nil, err // not a typed nil: the caller closes a non-nil store
	}
	return s, nil
}
