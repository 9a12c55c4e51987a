package main

import (
	"context"
	"errors"

	"github.com/deltasync/syncd"
	"github.com/nats-io/nats.go"
)

// openNATSStore opens the JetStream store (store/natsstore) on nc, with its
// stream and subjects under prefix and replicas copies of each record. It
// is the one place cmd/syncd names the store's package, so that the rest of
// -store nats (the node, the connection, the shutdown) stands without it.
func openNATSStore(ctx context.Context, nc *nats.Conn, prefix string, replicas int) (syncd.Store, error) {
	return nil, errors.New("-store nats: the NATS store (store/natsstore) is not built into this syncd")
}
