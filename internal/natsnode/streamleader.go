package natsnode

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamLeader asks JetStream, through nc, for the stream's information
// and returns the name of the server that leads it (the node every append
// of every document goes through). The request is answered by that leader:
// an answer within ctx also shows that JetStream can settle writes to the
// stream now. A stream on a single server that is not clustered reports
// that server's name.
func StreamLeader(ctx context.Context, nc *nats.Conn, stream string) (string, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return "", fmt.Errorf("natsnode: %w", err)
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", fmt.Errorf("natsnode: stream %q: %w", stream, err)
	}
	info := s.CachedInfo()
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return "", fmt.Errorf("natsnode: stream %q has no leader", stream)
	}
	return info.Cluster.Leader, nil
}
