package server

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"sync"

	"github.com/deltasync/syncd/router"
)

// Room messages across the cluster. A room message is sent once on the
// bus subject of its room; the instances with members of the room deliver
// it to theirs. Each instance delivers a message once: the one that
// published it ignores its own copy from the bus, the others get only the
// bus's. The sender stays excluded everywhere (its client id travels with
// the frame), and a frame from the bus is droppable, as a local room
// message is, so RoomQueueBytes still guards slow connections.
//
// A document's room: this instance listens on its subject while the
// document has members here (clusterPresence.acquire, with the room's
// presence), and a message from there goes to the engine
// (Engine.PublishRoom), which hands it to the document's subscribers with
// its operations and presence, as it does a local PUBLISH.
//
// An application's topic: the router's broker is a clusterBroker, which
// delivers to this instance's subscribers through a MemoryBroker, as a
// single node does, sends each published frame on the topic's subject, and
// listens there only while it has local subscribers of the topic.

// docRoomTopic is the prefix that makes a document id a room subject's
// name. It is the name of the router topic that carried a document's room
// messages before they went through the engine, kept so that instances of
// both versions exchange room messages during a rolling upgrade.
const docRoomTopic = "doc:"

// docRoomSubject is the bus subject of doc's room messages.
func docRoomSubject(doc string) string { return roomSubject(docRoomTopic + doc) }

// roomMessage sends a room message of doc, published by this instance's
// client from, to the other instances. A failure of the bus is counted,
// not returned: the message reached this instance's room, and room
// messages are best effort anyway (a slow connection drops them too), so
// the sender is not told to retry what its neighbours here already got.
func (c *cluster) roomMessage(doc, from string, f *router.Frame) {
	if c == nil || c.isClosing() {
		return
	}
	c.send(kindRoom, docRoomSubject(doc), encodeRoomMessage(c.id, from, f.Bytes()))
}

// docRoomFromBus delivers a room message of doc from the bus to this
// instance's members of the room, unless this instance sent it.
func (c *cluster) docRoomFromBus(doc string, data []byte) {
	if exclude, f, ok := c.roomFrame(data); ok {
		c.engine().PublishRoom(doc, exclude, f)
	}
}

// roomFrame decodes a room message from the bus and counts it. It reports
// false for this instance's own message and for one that does not parse.
func (c *cluster) roomFrame(data []byte) (exclude string, f *router.Frame, ok bool) {
	from, exclude, frame, err := decodeRoomMessage(data)
	if err != nil {
		c.m.in[kindRoom].Inc()
		c.m.malformed.Inc()
		return "", nil, false
	}
	if from == c.id {
		return "", nil, false
	}
	c.m.in[kindRoom].Inc()
	// The bus lends data for the call only; the frame is queued on
	// connections and written later.
	return exclude, router.RawDroppableFrame(append([]byte(nil), frame...)), true
}

// clusterBroker is the router's broker with a bus, for the application's
// topics.
type clusterBroker struct {
	c     *cluster
	local *router.MemoryBroker
	seed  maphash.Seed
	// locks serialise a topic's changes of membership with the bus
	// subscription they make or end (one of a fixed set of locks per
	// topic). Bus.Subscribe waits for the transport to have the
	// subscription, so that a JOIN answered misses no later message; a
	// stripe keeps that wait from holding up other topics.
	locks [64]sync.Mutex

	mu     sync.Mutex
	topics map[string]func() error // topic → its bus subscription's unsubscribe; guarded by mu
}

func newClusterBroker(c *cluster) *clusterBroker {
	return &clusterBroker{c: c, local: router.NewMemoryBroker(), seed: maphash.MakeSeed(), topics: make(map[string]func() error)}
}

func (b *clusterBroker) lock(topic string) *sync.Mutex {
	return &b.locks[maphash.String(b.seed, topic)%uint64(len(b.locks))]
}

func (b *clusterBroker) Subscribe(ctx context.Context, topic string, s router.Subscriber) error {
	l := b.lock(topic)
	l.Lock()
	defer l.Unlock()
	if err := b.local.Subscribe(ctx, topic, s); err != nil {
		return err
	}
	b.mu.Lock()
	_, ok := b.topics[topic]
	b.mu.Unlock()
	if ok {
		return nil
	}
	unsub, err := b.c.bus.Subscribe(roomSubject(topic), func(data []byte) { b.fromBus(topic, data) })
	if err != nil {
		b.local.Unsubscribe(ctx, topic, s)
		return err
	}
	b.mu.Lock()
	b.topics[topic] = unsub
	b.mu.Unlock()
	return nil
}

func (b *clusterBroker) Unsubscribe(ctx context.Context, topic string, s router.Subscriber) error {
	l := b.lock(topic)
	l.Lock()
	defer l.Unlock()
	b.local.Unsubscribe(ctx, topic, s)
	if b.local.Subscribers(topic) > 0 {
		return nil
	}
	b.mu.Lock()
	unsub, ok := b.topics[topic]
	delete(b.topics, topic)
	b.mu.Unlock()
	if !ok {
		return nil
	}
	// The bus may be down; the subscription dies with its connection then.
	unsub()
	return nil
}

// Publish delivers f to the local subscribers and sends it to the other
// instances. A failure of the bus is counted, not returned, as for a
// document's room (cluster.roomMessage).
func (b *clusterBroker) Publish(ctx context.Context, topic string, f *router.Frame, opts router.PublishOptions) error {
	if err := b.local.Publish(ctx, topic, f, opts); err != nil {
		return err
	}
	if b.c.isClosing() {
		return nil
	}
	b.c.send(kindRoom, roomSubject(topic), encodeRoomMessage(b.c.id, opts.Exclude, f.Bytes()))
	return nil
}

// Close closes the local broker; the bus subscriptions have ended with
// their subscribers (the router closes its broker after its connections).
func (b *clusterBroker) Close() error {
	b.mu.Lock()
	topics := b.topics
	b.topics = make(map[string]func() error)
	b.mu.Unlock()
	for _, unsub := range topics {
		unsub()
	}
	return b.local.Close()
}

// fromBus delivers a room message from the bus to the local subscribers of
// topic, unless this instance sent it.
func (b *clusterBroker) fromBus(topic string, data []byte) {
	if exclude, f, ok := b.c.roomFrame(data); ok {
		b.local.Publish(context.Background(), topic, f, router.PublishOptions{Exclude: exclude})
	}
}

// A room message on the bus: the sending instance's id, the client id not
// to deliver to, then the encoded frame, as written to the connections.
// The ids are length-prefixed (uvarint) so the frame travels as it is,
// without a second encoding.
const roomMessageVersion = 1

func encodeRoomMessage(from, exclude string, frame []byte) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen16+len(from)+len(exclude)+len(frame))
	b = append(b, roomMessageVersion)
	b = binary.AppendUvarint(b, uint64(len(from)))
	b = append(b, from...)
	b = binary.AppendUvarint(b, uint64(len(exclude)))
	b = append(b, exclude...)
	return append(b, frame...)
}

var errBadRoomMessage = errors.New("server: malformed room message on the bus")

func decodeRoomMessage(b []byte) (from, exclude string, frame []byte, err error) {
	if len(b) == 0 || b[0] != roomMessageVersion {
		return "", "", nil, errBadRoomMessage
	}
	b = b[1:]
	field := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	var ok1, ok2 bool
	from, ok1 = field()
	exclude, ok2 = field()
	if !ok1 || !ok2 || len(b) == 0 {
		return "", "", nil, errBadRoomMessage
	}
	return from, exclude, b, nil
}
