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

// validateTransport checks the transport flags against each other.
func (c *Config) validateTransport() error {
	t := &c.Transport
	switch {
	case t.MaxConns < 0:
		return errors.New("-max-conns must not be negative")
	case t.MaxConnsPerAddr <= 0:
		// 0 would silently become the default (server.Options).
		return errors.New("-max-conns-per-addr must be positive")
	case t.MessageTimeout <= 0:
		return errors.New("-message-timeout must be positive")
	case t.WriteTimeout <= 0:
		return errors.New("-write-timeout must be positive")
	case t.MaxPartialBytes <= 0:
		return errors.New("-max-partial-bytes must be positive")
	case t.MaxPresenceBytes <= 0, t.PresenceBytesPerSecond <= 0, t.MaxPublishBytes <= 0, t.MaxRoomPresenceBytes <= 0:
		return errors.New("-max-presence-bytes, -presence-rate-bytes, -max-publish-bytes and -max-room-presence-bytes must be positive")
	case t.RoomQueueBytes < 0:
		return errors.New("-room-queue-bytes must not be negative")
	case t.MaxRoomPresenceBytes > c.QueueBytes/2:
		// A joiner receives the whole room in one PRESENCE: it must fit
		// in its outbound queue with room to spare.
		return errors.New("-max-room-presence-bytes must be at most half of -queue-bytes")
	}
	return nil
}
