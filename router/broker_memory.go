package router

import (
	"context"
	"sync"
)

// MemoryBroker is a [Broker] within one process. It has no goroutines.
// Publish takes a snapshot of the topic's subscribers under a read lock and
// delivers outside it, so publishers do not contend with each other and a
// Deliver never runs under the broker's lock. The snapshot is rebuilt only
// after the topic's membership changed.
type MemoryBroker struct {
	mu     sync.RWMutex
	topics map[string]*memTopic
	closed bool
}

type memTopic struct {
	subs map[Subscriber]struct{}
	snap []Subscriber // nil when stale
}

// NewMemoryBroker returns an empty broker.
func NewMemoryBroker() *MemoryBroker {
	return &MemoryBroker{topics: make(map[string]*memTopic)}
}

func (b *MemoryBroker) Subscribe(_ context.Context, topic string, s Subscriber) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrBrokerClosed
	}
	t := b.topics[topic]
	if t == nil {
		t = &memTopic{subs: make(map[Subscriber]struct{})}
		b.topics[topic] = t
	}
	if _, ok := t.subs[s]; !ok {
		t.subs[s] = struct{}{}
		t.snap = nil
	}
	return nil
}

func (b *MemoryBroker) Unsubscribe(_ context.Context, topic string, s Subscriber) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[topic]
	if t == nil {
		return nil
	}
	if _, ok := t.subs[s]; ok {
		delete(t.subs, s)
		t.snap = nil
		if len(t.subs) == 0 {
			delete(b.topics, topic)
		}
	}
	return nil
}

func (b *MemoryBroker) Publish(_ context.Context, topic string, f *Frame, opts PublishOptions) error {
	subs, err := b.subscribers(topic)
	if err != nil {
		return err
	}
	for _, s := range subs {
		if opts.Exclude != "" && s.SubscriberID() == opts.Exclude {
			continue
		}
		s.Deliver(f)
	}
	return nil
}

// subscribers returns the topic's snapshot, rebuilding it if stale. The
// slice is never modified once built (a change makes a new one), so it is
// safe to iterate without the lock.
func (b *MemoryBroker) subscribers(topic string) ([]Subscriber, error) {
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return nil, ErrBrokerClosed
	}
	t := b.topics[topic]
	if t == nil {
		b.mu.RUnlock()
		return nil, nil
	}
	if snap := t.snap; snap != nil {
		b.mu.RUnlock()
		return snap, nil
	}
	b.mu.RUnlock()

	b.mu.Lock()
	defer b.mu.Unlock()
	t = b.topics[topic]
	if t == nil {
		return nil, nil
	}
	if t.snap == nil {
		t.snap = make([]Subscriber, 0, len(t.subs))
		for s := range t.subs {
			t.snap = append(t.snap, s)
		}
	}
	return t.snap, nil
}

// Subscribers returns the number of subscribers of topic.
func (b *MemoryBroker) Subscribers(topic string) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if t := b.topics[topic]; t != nil {
		return len(t.subs)
	}
	return 0
}

func (b *MemoryBroker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.topics = make(map[string]*memTopic)
	return nil
}
