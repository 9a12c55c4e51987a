package server

import (
	"encoding/base64"
	"fmt"
	"time"
)

// Bus is what the instances of a cluster tell each other outside the
// document log: room messages, presence and connection claims (cluster.go).
// It is a plain publish/subscribe transport, at most once and unordered
// across subjects; internal/natsbus implements it on core NATS. Nothing
// sent on it is durable: an instance that misses a message repairs its
// view from the heartbeats.
//
// Options.Bus nil is a single node: none of this runs.
type Bus interface {
	// ID names this instance among the cluster's, for as long as the
	// process runs. It must be unique in the cluster and must not be
	// reused by a later process (a restarted instance is a new one: the
	// others drop the old one's clients when its heartbeats stop), and it
	// must not contain a newline.
	ID() string

	// Publish sends data on subject (relative: the bus adds its own
	// prefix). It must not wait for the network: it hands data to the
	// transport and returns; an error means data was not sent. data may
	// be reused by the caller once Publish returns.
	Publish(subject string, data []byte) error

	// Subscribe calls handler with the data of every message on subject,
	// this instance's own included, until unsubscribe is called. Calls of
	// one subscription come one at a time, in the order published by each
	// publisher; different subscriptions' calls may run concurrently.
	// handler must not keep data after it returns and must not block for
	// long: it holds up its subscription. After unsubscribe returns, a
	// call already started may still be running, but no new one starts.
	Subscribe(subject string, handler func(data []byte)) (unsubscribe func() error, err error)
}

// Defaults of the cluster bus options (Options.BusHeartbeatInterval,
// Options.BusPeerTimeout, Options.BusRoomWait).
const (
	DefaultBusHeartbeatInterval = 2 * time.Second
	// DefaultBusMissedHeartbeats is how many heartbeat intervals of
	// silence make an instance dead, by default (BusPeerTimeout).
	DefaultBusMissedHeartbeats = 3
	DefaultBusRoomWait         = 250 * time.Millisecond
)

// Subjects of the bus, relative to its prefix. An id from a client (a
// document id, a topic) becomes one subject token through subjectToken.
const (
	subjectRoomPrefix     = "room."     // + token of "doc:<id>" or "topic:<name>": room messages
	subjectPresencePrefix = "presence." // + token of the document id: presence changes
	subjectHeartbeat      = "heartbeat" // every instance's heartbeats and goodbyes
	subjectRoomRequest    = "rooms"     // requests for every instance's room in a document
	subjectClaim          = "claim"     // connection claims (one live connection per client id)
)

// subjectToken encodes an id as one subject token. NATS gives '.', '*'
// and '>' a meaning in subjects and refuses spaces, so an id cannot be
// used as it is: base64url (no padding) has none of them and maps distinct
// ids to distinct tokens. The empty id, never produced by the server, gets
// "_", which no base64 encoding is.
func subjectToken(id string) string {
	if id == "" {
		return "_"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

func roomSubject(topic string) string   { return subjectRoomPrefix + subjectToken(topic) }
func presenceSubject(doc string) string { return subjectPresencePrefix + subjectToken(doc) }

// withBusDefaults fills the bus options' defaults and checks them.
func (o *Options) withBusDefaults() error {
	if o.BusHeartbeatInterval <= 0 {
		o.BusHeartbeatInterval = DefaultBusHeartbeatInterval
	}
	if o.BusPeerTimeout <= 0 {
		o.BusPeerTimeout = DefaultBusMissedHeartbeats * o.BusHeartbeatInterval
	}
	if o.BusRoomWait <= 0 {
		o.BusRoomWait = DefaultBusRoomWait
	}
	if o.BusForwardTimeout <= 0 {
		o.BusForwardTimeout = DefaultBusForwardTimeout
	}
	if o.BusPeerTimeout <= o.BusHeartbeatInterval {
		return fmt.Errorf("server: BusPeerTimeout %v must be longer than BusHeartbeatInterval %v, or live instances are dropped between heartbeats", o.BusPeerTimeout, o.BusHeartbeatInterval)
	}
	return nil
}
