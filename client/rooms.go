package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"

	"github.com/deltasync/syncd/protocol"
)

// Message is a room message: published by another client to a document's
// room (Doc) or to a topic (Topic).
type Message struct {
	Doc   string
	Topic string
	From  string // the sender's author id (Client.AuthorID)
	Data  json.RawMessage
}

// SetPresence sets this client's presence in the document's room: any
// JSON value but null. It is kept and sent again with every re-join.
// While connected it waits for the server's answer; while disconnected it
// only records the value.
func (d *Doc) SetPresence(ctx context.Context, state any) error {
	raw, err := valueJSON(state)
	if err != nil {
		return err
	}
	c := d.c
	c.mu.Lock()
	if d.left {
		c.mu.Unlock()
		return ErrLeft
	}
	// A value the server cannot take must not be recorded: every re-join
	// carries it in JOIN.presence, and would be refused (over
	// maxPresenceBytes) or closed with 1009 (over maxMessageBytes) again.
	if max := c.limitLocked("maxPresenceBytes"); max > 0 && int64(len(raw)) > max {
		c.mu.Unlock()
		return protocol.Errorf(protocol.CodeInvalidArgument, "presence of %d bytes exceeds the server's maxPresenceBytes %d", len(raw), max)
	}
	if max := c.limitLocked(protocol.LimitMaxMessageBytes); max > 0 && int64(len(raw))+512 > max {
		c.mu.Unlock()
		return protocol.Errorf(protocol.CodeInvalidArgument, "presence of %d bytes exceeds the server's maxMessageBytes %d", len(raw), max)
	}
	prev := d.myPresence
	d.myPresence = raw
	live := d.live
	c.mu.Unlock()
	if !live {
		return nil
	}
	err = c.Call(ctx, protocol.TypePresenceSet, protocol.PresenceSet{Doc: d.id, State: raw}, nil)
	if err == ErrNotConnected || err == ErrDisconnected {
		return nil // the re-join carries it
	}
	var refused *protocol.Error
	if errors.As(err, &refused) {
		// The server kept the previous value; so does the re-join, whose
		// JOIN a refused value would refuse as a whole (§4.4).
		c.mu.Lock()
		if bytes.Equal(d.myPresence, raw) {
			d.myPresence = prev
		}
		c.mu.Unlock()
	}
	return err
}

// Presence returns the room: presence values by author id (this client's
// own, under Client.AuthorID, included once the server announced it).
func (d *Doc) Presence() map[string]json.RawMessage {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return maps.Clone(d.room)
}

// OnPresence registers fn for every change of the room; it receives the
// whole room after the change.
func (d *Doc) OnPresence(fn func(map[string]json.RawMessage)) { register(&d.c.mu, &d.onPresence, fn) }

// OnMessage registers fn for the messages published to the document's
// room by other clients.
func (d *Doc) OnMessage(fn func(Message)) { register(&d.c.mu, &d.onMessage, fn) }

// Publish sends data (any JSON but null) to the other clients in the
// document's room and waits for the server's answer. Room messages are
// ephemeral: a client not connected at that moment never sees it, and
// none is sent while disconnected (ErrNotConnected).
func (d *Doc) Publish(ctx context.Context, data any) error {
	raw, err := valueJSON(data)
	if err != nil {
		return err
	}
	d.c.mu.Lock()
	live, left := d.live, d.left
	d.c.mu.Unlock()
	if left {
		return ErrLeft
	}
	if !live {
		return ErrNotConnected
	}
	return d.c.Call(ctx, protocol.TypePublish, protocol.Publish{Doc: d.id, Data: raw}, nil)
}

func (d *Doc) presenceLocked(p *protocol.Presence) {
	if d.presenceDue {
		clear(d.room)
		d.presenceDue = false
	}
	for _, cl := range p.Clients {
		d.room[cl.ClientID] = append(json.RawMessage(nil), cl.State...)
	}
	for _, id := range p.Left {
		delete(d.room, id)
	}
	if len(d.onPresence) == 0 {
		return
	}
	room, fns := maps.Clone(d.room), d.onPresence
	d.c.ev.push(func() {
		if d.isLeft() {
			return // Leave returned while the room waited its turn
		}
		for _, f := range fns {
			f(room)
		}
	})
}

func (c *Client) messageLocked(p *protocol.Message) {
	m := Message{Doc: p.Doc, Topic: p.Topic, From: p.From, Data: append(json.RawMessage(nil), p.Data...)}
	if p.Topic != "" {
		if sub := c.topics[p.Topic]; sub != nil {
			// Delivered only if the subscription still holds when its turn
			// comes: Unsubscribe may have returned meanwhile, while the
			// event goroutine was busy with earlier callbacks.
			c.ev.push(func() {
				c.mu.Lock()
				current := c.topics[p.Topic] == sub
				c.mu.Unlock()
				if current {
					sub.fn(m)
				}
			})
		}
		return
	}
	d := c.docs[p.Doc]
	if d == nil {
		return
	}
	fns := d.onMessage
	if len(fns) == 0 {
		return
	}
	c.ev.push(func() {
		if d.isLeft() {
			return // Leave returned while the message waited its turn
		}
		for _, f := range fns {
			f(m)
		}
	})
}

// isLeft reports whether Leave was called.
func (d *Doc) isLeft() bool {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return d.left
}

// subscription is one Subscribe's handler; its identity tells a message
// queued for it from one for a later subscription of the same topic.
type subscription struct{ fn func(Message) }

// Subscribe subscribes to topic and calls fn (on the event goroutine) for
// every message other clients publish to it. The subscription is renewed
// after every reconnect.
func (c *Client) Subscribe(ctx context.Context, topic string, fn func(Message)) error {
	if !protocol.ValidTopic(topic) {
		return protocol.Errorf(protocol.CodeInvalidArgument, "invalid topic %q", topic)
	}
	sub := &subscription{fn: fn}
	c.mu.Lock()
	c.topics[topic] = sub
	c.mu.Unlock()
	err := c.Call(ctx, protocol.TypeSubscribe, protocol.Subscribe{Topic: topic}, nil)
	if err == ErrNotConnected || err == ErrDisconnected {
		return nil // renewed at the next connection
	}
	if err != nil {
		c.mu.Lock()
		if c.topics[topic] == sub {
			delete(c.topics, topic)
		}
		c.mu.Unlock()
	}
	return err
}

// Unsubscribe ends a subscription.
func (c *Client) Unsubscribe(ctx context.Context, topic string) error {
	c.mu.Lock()
	delete(c.topics, topic)
	c.mu.Unlock()
	err := c.Call(ctx, protocol.TypeUnsubscribe, protocol.Unsubscribe{Topic: topic}, nil)
	if err == ErrNotConnected || err == ErrDisconnected {
		return nil
	}
	return err
}

// PublishTopic sends data to the other subscribers of topic, which this
// client must have subscribed to.
func (c *Client) PublishTopic(ctx context.Context, topic string, data any) error {
	raw, err := valueJSON(data)
	if err != nil {
		return err
	}
	return c.Call(ctx, protocol.TypePublish, protocol.Publish{Topic: topic, Data: raw}, nil)
}
