package server

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"strings"
	"sync"

	"github.com/deltasync/syncd/router"
)

// Room messages across the cluster. The router's broker is a
// clusterBroker: it delivers to this instance's subscribers through a
// MemoryBroker, as a single node does, and also sends each published
// frame on the topic's bus subject; the instances with subscribers of the
// topic deliver it to theirs. Each instance delivers a message once: the
// one that published it ignores its own copy from the bus, the others get
// only the bus's. The sender stays excluded everywhere (PublishOptions.
// Exclude travels with the frame), and a frame from the bus is droppable,
// as a local room message is, so RoomQueueBytes still guards slow
// connections.
//
// An instance subscribes to a topic's subject only while it has local
// subscribers of the topic. The first subscriber of a document's room
// (router topic "doc:<id>") also starts the instance's interest in the
// document's presence, and the last one ends it (cluster_presence.go).

// clusterBroker is the router's broker with a bus.
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
	if doc, ok := strings.CutPrefix(topic, docTopicPrefix); ok {
		b.c.presence.acquire(doc)
	}
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
	if doc, ok := strings.CutPrefix(topic, docTopicPrefix); ok {
		b.c.presence.release(doc)
	}
	// The bus may be down; the subscription dies with its connection then.
	unsub()
	return nil
}

// Publish delivers f to the local subscribers and sends it to the other
// instances. A failure of the bus is counted, not returned: the message
// reached this instance's room, and room messages are best effort anyway
// (a slow connection drops them too), so the sender is not told to retry
// what its neighbours here already got.
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
	from, exclude, frame, err := decodeRoomMessage(data)
	if err != nil {
		b.c.m.in[kindRoom].Inc()
		b.c.m.malformed.Inc()
		return
	}
	if from == b.c.id {
		return
	}
	b.c.m.in[kindRoom].Inc()
	// The bus lends data for the call only; the frame is queued on
	// connections and written later.
	f := router.RawDroppableFrame(append([]byte(nil), frame...))
	b.local.Publish(context.Background(), topic, f, router.PublishOptions{Exclude: exclude})
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
