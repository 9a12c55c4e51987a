package natsstore

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PublishFunc sends one message and waits for its acknowledgement.
type PublishFunc = func(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error)

// WrapPublish replaces s's publish with wrap(the current one), so that a
// test can lose acknowledgements.
func WrapPublish(s *Store, wrap func(PublishFunc) PublishFunc) {
	s.publish = wrap(s.publish)
}
