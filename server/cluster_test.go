package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/internal/natsbus"
	"github.com/deltasync/syncd/internal/testenv"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
	"github.com/deltasync/syncd/server"
)

// The cluster bus (cluster.go): several in-process servers, each with its
// own engine, on one embedded NATS server on 127.0.0.1. The heartbeats are
// fast (busHeartbeat) so that an instance's death shows within a second.

const (
	busHeartbeat   = 100 * time.Millisecond
	busPeerTimeout = 300 * time.Millisecond
)

// startNATS runs a NATS server (core only) on 127.0.0.1 until the test
// ends.
func startNATS(t testing.TB) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		ns.Shutdown()
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

// node is one instance of a test cluster.
type node struct {
	*env
	nc *nats.Conn
}

// startNode starts a server on its own engine and store, on the bus of ns
// under the test's own subject prefix.
func startNode(t testing.TB, ns *natsserver.Server, so server.Options) *node {
	t.Helper()
	return startNodeWith(t, ns, so, func(b server.Bus) server.Bus { return b })
}

// startNodeWith is startNode with the bus wrapped by wrap.
func startNodeWith(t testing.TB, ns *natsserver.Server, so server.Options, wrap func(server.Bus) server.Bus) *node {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL(), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close) // after the server's shutdown (cleanups run last first)
	bus, err := natsbus.New(nc, "test.bus", natsbus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	so.Bus = wrap(bus)
	if so.BusHeartbeatInterval == 0 {
		so.BusHeartbeatInterval = busHeartbeat
	}
	if so.BusPeerTimeout == 0 {
		so.BusPeerTimeout = busPeerTimeout
	}
	return &node{env: newEnv(t, syncd.Options{}, so), nc: nc}
}

// startCluster starts n nodes and waits until each has heard from all the
// others.
func startCluster(t testing.TB, n int, so server.Options) []*node {
	t.Helper()
	ns := startNATS(t)
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = startNode(t, ns, so)
	}
	for _, nd := range nodes {
		nd.awaitInstances(n - 1)
	}
	return nodes
}

// awaitInstances waits until the node hears from n other instances.
func (nd *node) awaitInstances(n int) {
	nd.t.Helper()
	deadline := time.Now().Add(readTimeout)
	for nd.metricValue("syncd_bus_instances") != float64(n) {
		if time.Now().After(deadline) {
			nd.t.Fatalf("the node hears from %v instances, want %d", nd.metricValue("syncd_bus_instances"), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// room is a client's view of a document's presence, kept from the
// PRESENCE messages it receives: author id → state.
type room map[string]string

func (r room) apply(p protocol.Presence) {
	for _, c := range p.Clients {
		r[c.ClientID] = string(c.State)
	}
	for _, id := range p.Left {
		delete(r, id)
	}
}

func (r room) String() string { b, _ := json.Marshal(map[string]string(r)); return string(b) }

// awaitRoom reads PRESENCE messages into r until it equals want, failing
// after within; anything but PRESENCE fails the test.
func (c *client) awaitRoom(r room, want room, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for r.String() != want.String() {
		left := time.Until(deadline)
		if left <= 0 {
			c.t.Fatalf("room %s, want %s", r, want)
		}
		m, err := c.tryRead(left)
		if err != nil {
			c.t.Fatalf("room %s, want %s: %v", r, want, err)
		}
		if m.Type != protocol.TypePresence {
			c.t.Fatalf("got %s while waiting for the room", m)
		}
		r.apply(decodeAs[protocol.Presence](c.t, m))
	}
}

// joinRoom joins doc with a presence value (nil: none) and returns the
// client's view of the room: the JOIN's answer, and with a value, the
// PRESENCE messages up to the one with its own entry.
func (c *client) joinRoom(doc string, state any) room {
	c.t.Helper()
	p := map[string]any{"doc": doc}
	if state != nil {
		p["presence"] = state
	}
	a := c.joinWith(p, "")
	r := room{}
	r.apply(a.presence)
	if state != nil {
		// Its own entry comes next (a PRESENCE from another instance may
		// come first).
		own := jsonOf(c.t, state)
		for r[c.author] != own {
			r.apply(c.presence())
		}
	}
	return r
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func merged(rs ...room) room {
	out := room{}
	for _, r := range rs {
		for k, v := range r {
			out[k] = v
		}
	}
	return out
}

// expectMessages reads until the client has n MESSAGEs (skipping
// PRESENCE), then checks that nothing else comes.
func (c *client) expectMessages(n int) []protocol.Message {
	c.t.Helper()
	var got []protocol.Message
	for len(got) < n {
		got = append(got, decodeAs[protocol.Message](c.t, c.expect(protocol.TypeMessage)))
	}
	// A duplicate would come from the bus, a round trip later than the
	// original: wait for that long, then make sure of the queue.
	time.Sleep(100 * time.Millisecond)
	c.quiet()
	return got
}

func TestClusterPublishReachesEveryInstanceOnce(t *testing.T) {
	nodes := startCluster(t, 3, server.Options{})
	const doc = "cluster.room:odd.id"
	sender := nodes[0].dial("")
	sender.join(doc)
	var others []*client
	for _, nd := range nodes {
		c := nd.dial("")
		c.join(doc)
		// The JOIN's handler is done (and with it the room's
		// subscription) once a later request is answered.
		c.drain()
		others = append(others, c) // one on the sender's own instance too
	}
	sender.drain()
	for i := range 3 {
		sender.rpcOK(protocol.TypePublish, map[string]any{"doc": doc, "data": map[string]any{"n": i}})
	}
	for i, c := range others {
		got := c.expectMessages(3)
		for j, m := range got {
			if m.Doc != doc || string(m.Data) != fmt.Sprintf(`{"n":%d}`, j) || m.From != sender.author {
				t.Fatalf("client %d, message %d: %+v", i, j, m)
			}
		}
	}
	sender.quiet() // not echoed to the sender, from any instance
	if got := nodes[1].metricValue("syncd_bus_messages_in_total", "kind", "room"); got != 3 {
		t.Fatalf("node 1 received %v room messages from the bus, want 3", got)
	}

	// A user topic whose name has the subject separator and a colon, on
	// two instances.
	const topic = "odd.topic:a.b"
	a, b := nodes[0].dial(""), nodes[2].dial("")
	a.rpcOK(protocol.TypeSubscribe, map[string]any{"topic": topic})
	b.rpcOK(protocol.TypeSubscribe, map[string]any{"topic": topic})
	a.rpcOK(protocol.TypePublish, map[string]any{"topic": topic, "data": "hello"})
	if m := b.expectMessages(1)[0]; m.Topic != topic || string(m.Data) != `"hello"` {
		t.Fatalf("topic message %+v", m)
	}
	a.quiet()
	// Unsubscribed: no more.
	b.rpcOK(protocol.TypeUnsubscribe, map[string]any{"topic": topic})
	a.rpcOK(protocol.TypePublish, map[string]any{"topic": topic, "data": "again"})
	b.expectMessages(0)
}

func TestClusterPresenceAcrossInstances(t *testing.T) {
	nodes := startCluster(t, 2, server.Options{})
	const doc = "cluster/presence"
	a := nodes[0].dial("")
	ra := a.joinRoom(doc, map[string]any{"name": "a"})
	b := nodes[1].dial("")
	rb := b.joinRoom(doc, map[string]any{"name": "b"})
	want := room{a.author: `{"name":"a"}`, b.author: `{"name":"b"}`}
	b.awaitRoom(rb, want, readTimeout)
	a.awaitRoom(ra, want, readTimeout)

	// A change on A shows on B.
	a.rpcOK(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": map[string]any{"name": "a", "x": 1}})
	want[a.author] = `{"name":"a","x":1}`
	b.awaitRoom(rb, want, readTimeout)
	// So does leaving.
	a.rpcOK(protocol.TypeLeave, map[string]any{"doc": doc})
	delete(want, a.author)
	b.awaitRoom(rb, want, readTimeout)
	if got := nodes[1].engine.Presence(doc); len(got) != 1 || got[0].ClientID != b.id {
		t.Fatalf("B's room %+v", got)
	}
	// A JOIN on A, which no longer shows the room (A has nobody in it),
	// is answered with B's entry in the room.
	a2 := nodes[0].dial("")
	if got := a2.joinRoom(doc, nil); got.String() != want.String() {
		t.Fatalf("the JOIN answered the room %s, want %s", got, want)
	}
	// And closing the connection.
	a2.rpcOK(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": map[string]any{"name": "a2"}})
	want[a2.author] = `{"name":"a2"}`
	b.awaitRoom(rb, want, readTimeout)
	a2.ws.Close()
	delete(want, a2.author)
	b.awaitRoom(rb, want, readTimeout)
}

func TestClusterLateJoinerGetsTheMergedRoom(t *testing.T) {
	ns := startNATS(t)
	const doc = "cluster/late"
	a := startNode(t, ns, server.Options{})
	b := startNode(t, ns, server.Options{})
	ca, cb := a.dial(""), b.dial("")
	ca.joinRoom(doc, map[string]any{"on": "a"})
	cb.joinRoom(doc, map[string]any{"on": "b"})
	want := room{ca.author: `{"on":"a"}`, cb.author: `{"on":"b"}`}
	// A reader on B sees both before C starts, so both heartbeats list
	// the document by then.
	rb := b.dial("")
	rbRoom := rb.joinRoom(doc, nil)
	rb.awaitRoom(rbRoom, want, readTimeout)

	c := startNode(t, ns, server.Options{})
	c.awaitInstances(2)
	// The document exists on C (in a cluster, its log is shared): the
	// room of another instance is shown in documents that exist.
	c.commit(doc, map[string]any{"x": 1})
	cc := c.dial("")
	if got := cc.joinRoom(doc, nil); got.String() != want.String() {
		t.Fatalf("the JOIN on a new instance answered the room %s, want %s", got, want)
	}
	// Its own entry reaches the others.
	cc.rpcOK(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": "c"})
	want[cc.author] = `"c"`
	rb.awaitRoom(rbRoom, want, readTimeout)
}

func TestClusterDeadInstancePresenceDropped(t *testing.T) {
	nodes := startCluster(t, 2, server.Options{})
	const doc = "cluster/dead"
	a := nodes[0].dial("")
	a.joinRoom(doc, map[string]any{"name": "a"})
	b := nodes[1].dial("")
	rb := b.joinRoom(doc, nil)
	want := room{a.author: `{"name":"a"}`}
	b.awaitRoom(rb, want, readTimeout)

	// A crash, as the bus sees it: its connection drops without a
	// goodbye, and its heartbeats stop.
	start := time.Now()
	nodes[0].nc.Close()
	bound := busPeerTimeout + busHeartbeat
	b.awaitRoom(rb, room{}, bound+time.Second) // a scheduling margin for -race on a shared machine
	if took := time.Since(start); took > bound+time.Second {
		t.Fatalf("dropped after %v, bound %v", took, bound)
	}
	if got := nodes[1].metricValue("syncd_bus_dead_instances_total"); got != 1 {
		t.Fatalf("dead instances %v", got)
	}
	if got := nodes[1].metricValue("syncd_bus_dropped_presence_total"); got != 1 {
		t.Fatalf("dropped presence %v", got)
	}
}

func TestClusterGoodbyeDropsPresenceAtOnce(t *testing.T) {
	// Heartbeats so slow that only the goodbye can explain a fast drop.
	nodes := startCluster(t, 2, server.Options{BusHeartbeatInterval: time.Second, BusPeerTimeout: time.Minute})
	const doc = "cluster/bye"
	a := nodes[0].dial("")
	a.joinRoom(doc, map[string]any{"name": "a"})
	b := nodes[1].dial("")
	rb := b.joinRoom(doc, nil)
	b.awaitRoom(rb, room{a.author: `{"name":"a"}`}, readTimeout)
	closed := a.closeCodeAsync() // a reads its close: the shutdown need not wait for it
	nodes[0].close()
	receive(t, closed)
	b.awaitRoom(rb, room{}, 2*time.Second)
	if got := nodes[1].metricValue("syncd_bus_dead_instances_total"); got != 0 {
		t.Fatalf("a goodbye counted as a death: %v", got)
	}
}

func TestClusterNewerAttemptReplacesConnectionElsewhere(t *testing.T) {
	nodes := startCluster(t, 3, server.Options{})
	id := newClientID()
	attempt := func(v string) url.Values { return url.Values{"attempt": {v}} }
	old := nodes[0].dialWith(dialOpts{clientID: id, query: attempt("att-000002")})
	closed := old.closeCodeAsync()
	newer := nodes[1].dialWith(dialOpts{clientID: id, query: attempt("att-000003")})
	if code := receive(t, closed); code != protocol.CloseReplaced {
		t.Fatalf("the older connection on A closed with %d, want %d", code, protocol.CloseReplaced)
	}
	// A stale attempt that reaches a third instance (its own client
	// record never saw the newer one) loses: the live, newer connection
	// answers its claim, and the stale one is closed.
	if code := nodes[2].closeCodeOfDial(dialOpts{clientID: id, query: attempt("att-000001")}); code != protocol.CloseReplaced {
		t.Fatalf("the stale connection on C closed with %d, want %d", code, protocol.CloseReplaced)
	}
	newer.join("cluster/claims") // still live
	if got := nodes[0].metricValue("syncd_bus_replaced_total"); got != 1 {
		t.Fatalf("A replaced %v connections", got)
	}

	// Without attempt values, the later connection wins, as on one server.
	id2 := newClientID()
	first := nodes[0].dialID(id2)
	closed = first.closeCodeAsync()
	second := nodes[2].dialID(id2)
	if code := receive(t, closed); code != protocol.CloseReplaced {
		t.Fatalf("the first connection without an attempt closed with %d, want %d", code, protocol.CloseReplaced)
	}
	second.join("cluster/claims")
}

// Without a Bus nothing of the cluster runs: the router keeps its own
// in-memory broker, and no bus metric exists.
func TestClusterNoBusIsSingleNode(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	if _, ok := ev.server.Router().Broker().(*router.MemoryBroker); !ok {
		t.Fatalf("broker %T without a bus", ev.server.Router().Broker())
	}
	c := ev.dial("")
	c.join("single/node")
	c.rpcOK(protocol.TypePublish, map[string]any{"doc": "single/node", "data": 1})
	fams, err := ev.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "syncd_bus_") {
			t.Fatalf("metric %s without a bus", f.GetName())
		}
	}
}

func TestClusterMergedRoomIsBounded(t *testing.T) {
	ns := startNATS(t)
	eo := syncd.Options{MaxRoomPresenceBytes: 300}
	so := server.Options{BusHeartbeatInterval: busHeartbeat, BusPeerTimeout: busPeerTimeout}
	var nodes []*node
	for range 2 {
		nc, err := nats.Connect(ns.ClientURL(), nats.NoReconnect())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		bus, err := natsbus.New(nc, "test.bounded", natsbus.Options{})
		if err != nil {
			t.Fatal(err)
		}
		o := so
		o.Bus = bus
		nodes = append(nodes, &node{env: newEnv(t, eo, o), nc: nc})
	}
	for _, nd := range nodes {
		nd.awaitInstances(1)
	}
	const doc = "cluster/bounded"
	big := map[string]any{"pad": strings.Repeat("x", 150)}
	a := nodes[0].dial("")
	a.joinRoom(doc, big)
	b := nodes[1].dial("")
	rb := b.joinRoom(doc, nil)
	b.awaitRoom(rb, room{a.author: jsonOf(t, big)}, readTimeout)
	// A's value fills B's room past half: B's own client does not fit.
	b.sendMeta(protocol.TypePresenceSet, "p", map[string]any{"doc": doc, "state": big})
	b.expectRPCError("p", protocol.CodeResourceExhausted)
}

// lossyBus loses the messages its drop function picks, as a network or a
// slow subscriber may: the cluster must repair what they leave behind.
type lossyBus struct {
	server.Bus
	mu   sync.Mutex
	drop func(subject string, data []byte) bool
}

func (b *lossyBus) Publish(subject string, data []byte) error {
	b.mu.Lock()
	drop := b.drop != nil && b.drop(subject, data)
	b.mu.Unlock()
	if drop {
		return nil
	}
	return b.Bus.Publish(subject, data)
}

// dropOnce makes the bus lose the next presence message of kind.
func (b *lossyBus) dropOnce(kind string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.drop = func(subject string, data []byte) bool {
		if !strings.HasPrefix(subject, "presence.") || !strings.Contains(string(data), `"kind":"`+kind+`"`) {
			return false
		}
		b.drop = nil
		return true
	}
}

// A lost change, or a lost departure, is repaired within about a heartbeat
// interval: the heartbeat's summary shows the mirror behind, or holding
// what the instance no longer has.
func TestClusterPresenceRepairsLostMessages(t *testing.T) {
	ns := startNATS(t)
	var lossy *lossyBus
	a := startNodeWith(t, ns, server.Options{}, func(b server.Bus) server.Bus {
		lossy = &lossyBus{Bus: b}
		return lossy
	})
	b := startNode(t, ns, server.Options{})
	a.awaitInstances(1)
	b.awaitInstances(1)
	const doc = "cluster/lossy"
	ca := a.dial("")
	ca.joinRoom(doc, map[string]any{"v": 1})
	cb := b.dial("")
	rb := cb.joinRoom(doc, nil)
	want := room{ca.author: `{"v":1}`}
	cb.awaitRoom(rb, want, readTimeout)

	// A lost change: B learns of it from A's next heartbeat.
	lossy.dropOnce("set")
	ca.rpcOK(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": map[string]any{"v": 2}})
	want[ca.author] = `{"v":2}`
	cb.awaitRoom(rb, want, 10*busHeartbeat+time.Second)

	// A lost change followed by another: the second shows the gap.
	lossy.dropOnce("set")
	ca2 := a.dial("")
	ca2.joinRoom(doc, "second")
	ca.rpcOK(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": map[string]any{"v": 3}})
	want[ca.author], want[ca2.author] = `{"v":3}`, `"second"`
	cb.awaitRoom(rb, want, 10*busHeartbeat+time.Second)

	// A lost departure: A's heartbeats stop listing the document.
	ca2.rpcOK(protocol.TypeLeave, map[string]any{"doc": doc})
	delete(want, ca2.author)
	cb.awaitRoom(rb, want, readTimeout)
	lossy.dropOnce("left")
	ca.rpcOK(protocol.TypeLeave, map[string]any{"doc": doc})
	cb.awaitRoom(rb, room{}, 10*busHeartbeat+time.Second)
}

// Room messages from another instance are best effort, as local ones are:
// a member of the room that reads nothing misses them once its queue holds
// more than RoomQueueBytes, and stays connected instead of being closed as
// a slow consumer, while a member that reads gets them.
func TestClusterRemoteRoomMessagesAreDroppable(t *testing.T) {
	nodes := startCluster(t, 2, server.Options{Limits: server.Limits{OutboundQueueBytes: 1 << 20}})
	const doc = "cluster/flood"
	sender := nodes[0].dial("")
	sender.join(doc)
	slow := nodes[1].dialWith(dialOpts{rcvBuf: 4096})
	slow.join(doc)
	slow.drain()
	reader := nodes[1].dial("")
	reader.join(doc)
	reader.drain()

	// 100 × 32 KiB: three times the queue bound that would close the
	// slow member, were the messages not droppable.
	data := strings.Repeat("x", 32<<10)
	const n = 100
	got := make(chan int, 1)
	go func() {
		count := 0
		// Until the messages stop coming (what is dropped for this
		// reader, if it falls behind under -race, never comes).
		for count < n {
			m, err := reader.tryRead(time.Second)
			if err != nil {
				break
			}
			if m.Type == protocol.TypeMessage {
				count++
			}
		}
		got <- count
	}()
	for i := range n {
		sender.sendMeta(protocol.TypePublish, fmt.Sprintf("p%d", i), map[string]any{"doc": doc, "data": data})
	}
	if count := <-got; count == 0 {
		t.Fatal("the reading member got no message")
	}
	if dropped := nodes[1].metricValue("syncd_room_messages_dropped_total"); dropped == 0 {
		t.Fatal("nothing was dropped for the member that reads nothing")
	}
	if overflows := nodes[1].metricValue("syncd_queue_overflows_total"); overflows != 0 {
		t.Fatalf("%v connections closed as slow consumers", overflows)
	}
	// The slow member is still connected: it reads what was kept, then the
	// answer to a request of its own.
	slow.drain()
}

// TestClusterRoomInterestFollowsMembership: an instance listens to a
// document's room on the bus while it has members of the document, however
// they joined (a re-join counts once), and stops when the last one leaves.
func TestClusterRoomInterestFollowsMembership(t *testing.T) {
	nodes := startCluster(t, 2, server.Options{})
	const doc = "cluster/interest"
	roomIn := func() float64 { return nodes[1].metricValue("syncd_bus_messages_in_total", "kind", "room") }
	sender := nodes[0].dial("")
	sender.join(doc)
	b, c := nodes[1].dial(""), nodes[1].dial("")
	b.join(doc)
	b.join(doc) // again: still one membership
	c.join(doc)
	b.drain()
	c.drain()
	sender.drain()

	sender.rpcOK(protocol.TypePublish, map[string]any{"doc": doc, "data": 1})
	b.expectMessages(1)
	c.expectMessages(1)
	// b leaves; c is still a member, so the room is still heard.
	b.rpcOK(protocol.TypeLeave, map[string]any{"doc": doc})
	sender.rpcOK(protocol.TypePublish, map[string]any{"doc": doc, "data": 2})
	c.expectMessages(1)
	b.quiet()
	if got := roomIn(); got != 2 {
		t.Fatalf("node 1 received %v room messages from the bus, want 2", got)
	}
	// The last member leaves: node 1 stops listening.
	c.rpcOK(protocol.TypeLeave, map[string]any{"doc": doc})
	sender.rpcOK(protocol.TypePublish, map[string]any{"doc": doc, "data": 3})
	time.Sleep(100 * time.Millisecond) // a bus round trip, as expectMessages waits
	if got := roomIn(); got != 2 {
		t.Fatalf("node 1 received %v room messages from the bus after its last member left, want 2", got)
	}
	b.quiet()
	c.quiet()
}

// closeCodeOfDial connects with o and returns the close code the
// connection ends with, HELLO or not: an instance that learns of a newer
// connection elsewhere closes its own at once, and its close may overtake
// the greeting.
func (ev *env) closeCodeOfDial(o dialOpts) int {
	ev.t.Helper()
	q := url.Values{}
	for k, v := range o.query {
		q[k] = v
	}
	q.Set("clientId", o.clientID)
	conn, resp, err := testenv.DialWS(ev.t, ev.url, testenv.WSOptions{Query: q, Check: checkWire})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		ev.t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	return conn.CloseCode()
}
