package server

import "time"

// Heartbeat defaults (PROTOCOL.md §6.10): a client that vanishes without
// closing its connection is closed, and leaves every room's presence,
// between 25 and 35 seconds after it fell silent.
const (
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultHeartbeatTimeout  = 25 * time.Second
)
