package main

import (
	"flag"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
)

// BusConfig is what the flags set about the cluster bus: what the
// instances of a cluster tell each other outside the document log
// (server.Options.Bus; docs/cluster-bus.md). They matter only when syncd
// runs as one instance of a cluster.
type BusConfig struct {
	HeartbeatInterval time.Duration
	PeerTimeout       time.Duration
	RoomWait          time.Duration
	// Forwarding of hot documents' edits (docs/cluster.md).
	Forward        bool
	ForwardHold    time.Duration
	ForwardTimeout time.Duration
}

// busFlags defines the flags of BusConfig on fs.
func (b *BusConfig) busFlags(fs *flag.FlagSet) {
	fs.DurationVar(&b.HeartbeatInterval, "bus-heartbeat", server.DefaultBusHeartbeatInterval, "in a cluster, how often this instance tells the others it is alive and where its clients have presence")
	fs.DurationVar(&b.PeerTimeout, "bus-peer-timeout", server.DefaultBusMissedHeartbeats*server.DefaultBusHeartbeatInterval, "in a cluster, drop the presence of another instance's clients when nothing was heard from it for this long (more than -bus-heartbeat; detected within this plus -bus-heartbeat)")
	fs.BoolVar(&b.Forward, "bus-forward", true, "in a cluster, send the edits of a document several instances write at once (a conflict on the shared log) to one instance, which decides them all, instead of racing for the log")
	fs.DurationVar(&b.ForwardHold, "bus-forward-hold", syncd.DefaultForwardHold, "in a cluster, how long a document keeps forwarding its edits after its last conflict, or after the home last said that other instances write it too (with -bus-forward)")
	fs.DurationVar(&b.ForwardTimeout, "bus-forward-timeout", server.DefaultBusForwardTimeout, "in a cluster, how long to wait for the answer to a forwarded edit before deciding it here (the log's de-duplication settles a double decision)")
	fs.DurationVar(&b.RoomWait, "bus-room-wait", server.DefaultBusRoomWait, "in a cluster, how long a JOIN waits for the other instances' presence in the document, so that its answer carries the whole room")
}

// busRules are the rows of Config.rules for the bus flags.
func (b *BusConfig) busRules() []flagRule {
	return []flagRule{
		positive("bus-heartbeat", b.HeartbeatInterval),
		// Not longer: live instances would be dropped between heartbeats.
		longerThan("bus-peer-timeout", b.PeerTimeout, "bus-heartbeat", b.HeartbeatInterval),
		positive("bus-room-wait", b.RoomWait),
		positive("bus-forward-hold", b.ForwardHold),
		positive("bus-forward-timeout", b.ForwardTimeout),
	}
}
