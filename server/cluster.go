package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/router"
)

// The cluster: what the syncd instances serving the same documents tell
// each other outside the document log, over the Bus (Options.Bus). Three
// things:
//
//   - room messages (cluster_rooms.go): a PUBLISH reaches the room's or
//     topic's subscribers on every instance. A document's room is on the
//     bus while this instance has members of it (its interest in the
//     room, below), and its messages from there reach the members through
//     the engine (Engine.PublishRoom), as local ones do. For the
//     application's topics the router's broker becomes a clusterBroker,
//     which subscribes to a topic's subject only while this instance has
//     local subscribers of the topic;
//   - presence (cluster_presence.go), which also keeps this instance's
//     interest in each document's room (its presence and room-message
//     subjects) while the document has members here: each instance
//     announces its own clients' presence changes per document and
//     merges the others' into
//     the rooms it shows (syncd.Engine.SetRemotePresence). Heartbeats
//     every BusHeartbeatInterval summarise what each instance holds, so
//     that an instance that missed something, or joined late, catches up;
//     an instance silent for BusPeerTimeout is dead and its clients'
//     presence is dropped; a clean shutdown says goodbye at once;
//   - claims (cluster_claims.go): one live connection per client id across
//     the cluster. A connection that opens is announced, and an instance
//     holding an older connection of the client id closes it with 4409.
//
// Without a Bus none of this exists: s.cluster is nil and every hook is a
// no-op on a nil *cluster.

// cluster is one server's side of the bus.
type cluster struct {
	s        *Server
	bus      Bus
	id       string
	log      *slog.Logger
	m        *busMetrics
	interval time.Duration // between heartbeats
	timeout  time.Duration // of silence before an instance counts as dead
	roomWait time.Duration // a JOIN's wait for the other instances' rooms

	rooms    *clusterBroker
	presence *clusterPresence
	claims   recentClaims    // claims to announce again (cluster_claims.go)
	fwd      *clusterForward // forwarded edits (cluster_forward.go)
	fwdTo    *Forwarder      // the engine's, tied to fwd while the cluster runs; may be nil

	// closing: goodbye was said; read on every message sent, so atomic.
	closing atomic.Bool
	mu      sync.Mutex // guards unsubs
	unsubs  []func() error

	stop chan struct{}
	wg   sync.WaitGroup // the heartbeat loop
}

// newCluster makes the server's side of the bus; start begins it.
func newCluster(s *Server, o Options) (*cluster, error) {
	id := o.Bus.ID()
	if id == "" {
		return nil, errors.New("server: the Bus has no instance id")
	}
	c := &cluster{
		s: s, bus: o.Bus, id: id, log: o.Logger.With("instance", id),
		m:        newBusMetrics(),
		interval: o.BusHeartbeatInterval,
		timeout:  o.BusPeerTimeout,
		roomWait: o.BusRoomWait,
		stop:     make(chan struct{}),
	}
	c.rooms = newClusterBroker(c)
	c.presence = newClusterPresence(c)
	c.fwd = newClusterForward(c, o)
	c.fwdTo = o.Forwarder
	return c, nil
}

// start subscribes to the instance-wide subjects and starts the heartbeat
// loop. The first heartbeat goes out at once: the others answer an
// instance they have not heard of with a heartbeat of their own, so a new
// instance learns who holds what within a round trip.
func (c *cluster) start() error {
	subscribe := func(unsub func() error, err error) error {
		if err != nil {
			c.close()
			return err
		}
		c.mu.Lock()
		c.unsubs = append(c.unsubs, unsub)
		c.mu.Unlock()
		return nil
	}
	for subject, h := range map[string]func([]byte){
		subjectHeartbeat:   c.presence.onHeartbeat,
		subjectRoomRequest: c.presence.onRoomRequest,
		subjectClaim:       c.onClaim,
		subjectContended:   c.fwd.onContended,
	} {
		if err := subscribe(c.bus.Subscribe(subject, h)); err != nil {
			return err
		}
	}
	if err := subscribe(c.fwd.start(c.fwdTo)); err != nil {
		return err
	}
	c.presence.sendHeartbeat()
	c.wg.Add(1)
	go c.heartbeatLoop()
	return nil
}

// heartbeatLoop sends this instance's heartbeat and drops the instances
// that stopped sending theirs, every interval, until close.
func (c *cluster) heartbeatLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.presence.sendHeartbeat()
			c.repeatClaims()
			c.presence.dropSilent(now)
		}
	}
}

// goodbye tells the other instances that this one is leaving, so they drop
// its clients' presence at once instead of after BusPeerTimeout, and stops
// announcing: what the closing connections do next is not news.
func (c *cluster) goodbye() {
	if c == nil {
		return
	}
	if !c.closing.Swap(true) {
		c.publish(kindHeartbeat, subjectHeartbeat, busHeartbeat{From: c.id, Bye: true}, true)
	}
}

// close stops the heartbeats and the instance-wide subscriptions. The
// room and presence subscriptions end with the connections that hold them
// (the router's Shutdown, before).
func (c *cluster) close() {
	if c == nil {
		return
	}
	c.goodbye()
	c.fwd.close(c.fwdTo)
	c.mu.Lock()
	unsubs := c.unsubs
	c.unsubs = nil
	c.mu.Unlock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.wg.Wait()
	// Documents still shown (a shutdown that cut its connections off
	// before they left their rooms) end their subscriptions here.
	unsubs = append(unsubs, c.presence.unsubscribeAll()...)
	for _, u := range unsubs {
		u() // the bus may be gone already: nothing to do about it here
	}
}

// isClosing reports whether goodbye was said.
func (c *cluster) isClosing() bool { return c.closing.Load() }

// publish encodes v as JSON and sends it on subject, counting it under
// kind. Once the instance said goodbye, only the goodbye itself (force)
// goes out.
func (c *cluster) publish(kind busKind, subject string, v any, force bool) {
	if !force && c.isClosing() {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		c.log.Error("cluster bus: encoding", "subject", subject, "err", err)
		return
	}
	c.send(kind, subject, data)
}

// send sends data on subject, counting it under kind.
func (c *cluster) send(kind busKind, subject string, data []byte) {
	if err := c.bus.Publish(subject, data); err != nil {
		c.m.publishErrors.Inc()
		c.log.Debug("cluster bus: publish", "subject", subject, "err", err)
		return
	}
	c.m.out[kind].Inc()
}

// receive decodes a message of kind into v, whose sender's id is at
// *from once decoded. It reports false, and the message is dropped, when
// the message is this instance's own back from the bus, or does not parse
// (a bug, or a foreign publisher on our subjects: nothing to answer; it
// is counted).
func (c *cluster) receive(kind busKind, data []byte, v any, from *string) bool {
	if err := json.Unmarshal(data, v); err != nil || *from == "" {
		c.m.in[kind].Inc()
		c.m.malformed.Inc()
		c.log.Warn("cluster bus: malformed message", "kind", kind.String(), "err", err)
		return false
	}
	if *from == c.id {
		return false
	}
	c.m.in[kind].Inc()
	return true
}

// --- hooks called by the rest of the server; all are no-ops without a bus

// joining prepares doc's merged room before a JOIN subscribes: see
// clusterPresence.enter. The JOIN holds an interest in the room until it
// calls the returned function, once answered: with member true, its
// interest becomes the new membership's, which roomLeft ends.
func (c *cluster) joining(x *router.Ctx, doc string) (done func(member bool)) {
	if c == nil {
		return func(bool) {}
	}
	return c.presence.enter(x.Context(), doc)
}

// roomLeft ends a membership's interest in doc's room (see joining).
func (c *cluster) roomLeft(doc string) {
	if c != nil {
		c.presence.release(doc)
	}
}

// presenceSet announces that this instance's client set its presence in doc.
func (c *cluster) presenceSet(doc, clientID string, state json.RawMessage) {
	if c != nil {
		c.presence.localChange(doc, clientID, state)
	}
}

// presenceCleared announces that this instance's client left doc's room.
func (c *cluster) presenceCleared(doc, clientID string) {
	if c != nil {
		c.presence.localChange(doc, clientID, nil)
	}
}

// clearPresence removes a client's presence from doc's room, and in a
// cluster announces it.
func (s *Server) clearPresence(doc, clientID string) {
	s.engine.ClearPresence(doc, clientID)
	s.cluster.presenceCleared(doc, clientID)
}

// opened announces a connection's claim on its client id.
func (c *cluster) opened(conn *router.Conn) {
	if c != nil {
		c.announceClaim(conn.ClientID(), conn.Attempt(), conn.Opened())
		c.claims.add(conn)
	}
}

// engine is the engine whose rooms the cluster fills.
func (c *cluster) engine() *syncd.Engine { return c.s.engine }
