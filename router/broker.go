package router

import (
	"context"
	"errors"
	"slices"
)

// Broker carries frames published on a topic to the topic's subscribers.
// The in-memory implementation ([MemoryBroker]) serves one process; a
// broker on Redis (later) will carry the same frames between servers, so
// the interface deals in encoded frames and client ids only.
//
// Every method may be called from many goroutines at once.
type Broker interface {
	// Subscribe adds s to topic. Subscribing s to a topic it is already
	// subscribed to does nothing and is not an error. It returns
	// ErrBrokerClosed after Close.
	Subscribe(ctx context.Context, topic string, s Subscriber) error

	// Unsubscribe removes s from topic. Removing a subscriber that is not
	// subscribed does nothing and is not an error, nor is it after Close.
	Unsubscribe(ctx context.Context, topic string, s Subscriber) error

	// Publish delivers f to every subscriber of topic at the time of the
	// call, except those whose SubscriberID equals opts.Exclude. It must
	// not block on any subscriber: Deliver only queues. Publishing to a
	// topic without subscribers does nothing. A broker spanning servers
	// returns once the frame is handed to the transport, and may return a
	// transient error (then nothing or only the local subscribers got it);
	// the memory broker fails only with ErrBrokerClosed.
	Publish(ctx context.Context, topic string, f *Frame, opts PublishOptions) error

	// Close releases the broker; later Subscribe and Publish calls fail
	// with ErrBrokerClosed. Closing twice is not an error.
	Close() error
}

// Subscriber receives published frames. *Conn is one.
type Subscriber interface {
	// SubscriberID names the subscriber for PublishOptions.Exclude: for a
	// connection, its client id.
	SubscriberID() string
	// Deliver queues f for the subscriber. It must not block, and must not
	// call back into the broker.
	Deliver(f *Frame)
}

// PublishOptions tune one Publish.
type PublishOptions struct {
	// Exclude is a client id not to deliver to, typically the publisher's
	// own ("not echoed to the sender").
	Exclude string
}

// Publish encodes a message once and publishes it on topic to every
// subscribed connection (through the broker).
func (r *Router) Publish(ctx context.Context, topic, typ string, payload any, opts PublishOptions) error {
	f, err := NewFrame(typ, payload)
	if err != nil {
		return err
	}
	return r.broker.Publish(ctx, topic, f, opts)
}

// PublishFrame publishes an encoded frame on topic.
func (r *Router) PublishFrame(ctx context.Context, topic string, f *Frame, opts PublishOptions) error {
	return r.broker.Publish(ctx, topic, f, opts)
}

// Subscribe subscribes the connection to topic. Its subscriptions end with
// it. It fails with ErrClosed once the connection has ended. Topic names
// are the application's business; the router only refuses "".
func (c *Conn) Subscribe(ctx context.Context, topic string) error {
	if topic == "" {
		return errors.New("router: empty topic")
	}
	c.subMu.Lock()
	defer c.subMu.Unlock()
	// subMu, not mu: a broker call may block (a network broker), and mu is
	// what every Send takes.
	if c.subsClosed {
		return ErrClosed
	}
	if c.hasTopicLocked(topic) {
		return nil
	}
	if err := c.r.broker.Subscribe(ctx, topic, c); err != nil {
		return err
	}
	if c.topic == "" {
		c.topic = topic
		return nil
	}
	if c.topics == nil {
		c.topics = make(map[string]struct{})
	}
	c.topics[topic] = struct{}{}
	return nil
}

// hasTopicLocked reports whether the connection is subscribed to topic.
// c.subMu must be held.
func (c *Conn) hasTopicLocked(topic string) bool {
	if c.topic == topic {
		return true
	}
	_, ok := c.topics[topic]
	return ok
}

// topicsLocked returns the connection's topics, unsorted. c.subMu must be
// held.
func (c *Conn) topicsLocked() []string {
	n := len(c.topics)
	if c.topic != "" {
		n++
	}
	ts := make([]string, 0, n)
	if c.topic != "" {
		ts = append(ts, c.topic)
	}
	for t := range c.topics {
		ts = append(ts, t)
	}
	return ts
}

// Unsubscribe ends the connection's subscription to topic, if any.
func (c *Conn) Unsubscribe(ctx context.Context, topic string) error {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if !c.hasTopicLocked(topic) {
		return nil
	}
	if c.topic == topic {
		c.topic = ""
	} else {
		delete(c.topics, topic)
	}
	return c.r.broker.Unsubscribe(ctx, topic, c)
}

// Topics returns the connection's topics, sorted.
func (c *Conn) Topics() []string {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	ts := c.topicsLocked()
	slices.Sort(ts)
	return ts
}

// leaveAllTopics ends every subscription, for good: the reader calls it as
// the connection ends.
func (c *Conn) leaveAllTopics() {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	c.subsClosed = true
	for _, t := range c.topicsLocked() {
		// The connection is gone; a broker error cannot be acted on here,
		// and a stale subscriber's Deliver fails harmlessly with ErrClosed.
		c.r.broker.Unsubscribe(context.Background(), t, c)
	}
	c.topic, c.topics = "", nil
}
