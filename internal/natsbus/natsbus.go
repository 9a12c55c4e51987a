// Package natsbus is the cluster bus of syncd (server.Bus) on core NATS:
// plain publish and subscribe, at most once, no JetStream. What the
// instances of a cluster tell each other outside the document log (room
// messages, presence, heartbeats, client id claims) is ephemeral, so it
// needs neither a replicated log nor an acknowledgement; the server's
// heartbeats repair whatever a lost message leaves behind.
//
// The Bus does not own its *nats.Conn: the caller connects, and closes the
// connection after the server is shut down. Subjects are the server's,
// under the prefix given to New, so that several clusters (or tests) can
// share one NATS system.
package natsbus

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// SubscribeTimeout bounds Subscribe's wait for the NATS server.
const SubscribeTimeout = 2 * time.Second

// Bus is a server.Bus on a NATS connection.
type Bus struct {
	nc     *nats.Conn
	prefix string // with its trailing "."
	id     string
}

// Options configure New. The zero value is ready to use.
type Options struct {
	// ID names this instance among the cluster's. Default: 16 random
	// bytes in hex, new for every New, as server.Bus.ID asks (a restarted
	// process is a new instance). Set it only to something as unique.
	ID string
}

// New returns a bus on nc whose subjects start with prefix (one or more
// subject tokens, e.g. "syncd.bus"; no wildcards).
func New(nc *nats.Conn, prefix string, opts Options) (*Bus, error) {
	if nc == nil {
		return nil, errors.New("natsbus: New needs a NATS connection")
	}
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	id := opts.ID
	if id == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("natsbus: instance id: %w", err)
		}
		id = hex.EncodeToString(b[:])
	}
	if strings.ContainsAny(id, "\n\r") {
		return nil, errors.New("natsbus: an instance id must not contain a newline")
	}
	return &Bus{nc: nc, prefix: prefix + ".", id: id}, nil
}

// validPrefix checks that prefix is a literal subject: tokens without
// wildcards, spaces or empty tokens.
func validPrefix(prefix string) error {
	if prefix == "" {
		return errors.New("natsbus: empty subject prefix")
	}
	for _, tok := range strings.Split(prefix, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n*>") {
			return fmt.Errorf("natsbus: subject prefix %q: want dot-separated tokens without wildcards or spaces", prefix)
		}
	}
	return nil
}

// ID returns this instance's id.
func (b *Bus) ID() string { return b.id }

// Publish sends data on the prefixed subject. nats.go copies data into its
// write buffer and sends it from its flusher, so this does not wait for
// the network; while the connection is reconnecting it buffers up to the
// connection's ReconnectBufSize, then fails.
func (b *Bus) Publish(subject string, data []byte) error {
	return b.nc.Publish(b.prefix+subject, data)
}

// Subscribe calls handler with each message on the prefixed subject, one
// at a time, from a goroutine of the subscription's own (nats.go's
// asynchronous subscription), until unsubscribe. A subscriber slower than
// nats.go's pending limits loses messages (at most once, as the bus
// promises).
//
// It returns once the NATS server has the subscription (a round trip,
// bounded by SubscribeTimeout), so that what is published after, by any
// instance, reaches it: a client whose JOIN was answered gets every room
// message sent after the answer. If the round trip fails the subscription
// stands anyway, and nats.go renews it when it reconnects.
func (b *Bus) Subscribe(subject string, handler func(data []byte)) (unsubscribe func() error, err error) {
	sub, err := b.nc.Subscribe(b.prefix+subject, func(m *nats.Msg) { handler(m.Data) })
	if err != nil {
		return nil, err
	}
	b.nc.FlushTimeout(SubscribeTimeout)
	return func() error {
		err := sub.Unsubscribe()
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
			return nil // gone with its connection, or already ended
		}
		return err
	}, nil
}
