package natsstore

import (
	"context"
	"time"

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

// StallWatchAfterStart makes s's watch consumer checked every interval,
// and has stall called with its consume context once it runs, so that a
// test can stop it under the watcher.
func StallWatchAfterStart(s *Store, interval time.Duration, stall func(jetstream.ConsumeContext)) {
	s.watch.checkEvery, s.watch.stallHook = interval, stall
}
