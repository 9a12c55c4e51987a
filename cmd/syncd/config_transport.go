package main

import (
	"errors"
	"flag"
	"time"
)

// TransportConfig is what the flags set about connections, partly
// received messages and rooms (PROTOCOL.md §6.11).
type TransportConfig struct {
	MaxConns               int
	MaxConnsPerAddr        int
	MessageTimeout         time.Duration
	WriteTimeout           time.Duration
	MaxPartialBytes        int64
	MaxPresenceBytes       int
	PresenceBytesPerSecond int
	MaxRoomPresenceBytes   int
	MaxPublishBytes        int
	RoomQueueBytes         int
}

// transportFlags defines the flags of TransportConfig on fs.
func (t *TransportConfig) transportFlags(fs *flag.FlagSet) {
	fs.IntVar(&t.MaxConns, "max-conns", 0, "WebSocket connections in all (0: the open-file limit less an eighth of it, at least 64, kept for the rest); past it, upgrades get HTTP 503 with Retry-After")
	fs.IntVar(&t.MaxConnsPerAddr, "max-conns-per-addr", 256, "WebSocket connections from one client address; past it, upgrades get HTTP 503 with Retry-After")
	fs.DurationVar(&t.MessageTimeout, "message-timeout", 10*time.Second, "time for an inbound message to arrive whole once it waits for the network; past it the connection is closed with 1013")
	fs.DurationVar(&t.WriteTimeout, "write-timeout", 10*time.Second, "time one write to a connection may take; a client that accepts no bytes for this long is disconnected")
	fs.Int64Var(&t.MaxPartialBytes, "max-partial-bytes", 64<<20, "bytes of partly received messages held across all connections; the connection that would pass it is closed with 1013")
	fs.IntVar(&t.MaxPresenceBytes, "max-presence-bytes", 64<<10, "largest presence value (JSON, as sent)")
	fs.IntVar(&t.PresenceBytesPerSecond, "presence-rate-bytes", 64<<10, "presence bytes per second one connection may set (burst two values of -max-presence-bytes)")
	fs.IntVar(&t.MaxRoomPresenceBytes, "max-room-presence-bytes", 1<<20, "presence of a document's room in all (a joiner receives it whole)")
	fs.IntVar(&t.MaxPublishBytes, "max-publish-bytes", 64<<10, "largest PUBLISH data (JSON, as sent)")
	fs.IntVar(&t.RoomQueueBytes, "room-queue-bytes", 0, "room messages are dropped for a connection whose outbound queue holds more than this (0: -queue-bytes/8)")
}

// transportRules are the rows of Config.rules for the transport flags.
func (t *TransportConfig) transportRules() []flagRule {
	return []flagRule{
		atLeast("max-conns", t.MaxConns, 0),
		// 0 would silently become the default (server.Options).
		positive("max-conns-per-addr", t.MaxConnsPerAddr),
		positive("message-timeout", t.MessageTimeout),
		positive("write-timeout", t.WriteTimeout),
		positive("max-partial-bytes", t.MaxPartialBytes),
		positive("max-presence-bytes", t.MaxPresenceBytes),
		positive("presence-rate-bytes", t.PresenceBytesPerSecond),
		positive("max-room-presence-bytes", t.MaxRoomPresenceBytes),
		positive("max-publish-bytes", t.MaxPublishBytes),
		atLeast("room-queue-bytes", t.RoomQueueBytes, 0),
	}
}

// validateTransport checks the transport flags against each other (each
// one alone is checked by transportRules).
func (c *Config) validateTransport() error {
	if c.Transport.MaxRoomPresenceBytes > c.QueueBytes/2 {
		// A joiner receives the whole room in one PRESENCE: it must fit
		// in its outbound queue with room to spare.
		return errors.New("-max-room-presence-bytes must be at most half of -queue-bytes")
	}
	return nil
}
