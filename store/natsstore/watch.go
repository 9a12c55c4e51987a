package natsstore

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// watcher follows what the stream stored on every log subject with one
// ordered consumer per store (headers only), started at the first Watch,
// and tells each watch of its document's messages. An ordered consumer
// reads what the stream stored, in order, and recreates itself from the
// last sequence it delivered after a gap or a reconnection, so no stored
// message is missed; the stream's input subject would also carry the
// publishes the stream refused.
type watcher struct {
	s       *Store
	mu      sync.Mutex
	bySubj  map[string]map[*watch]struct{}
	started bool
	stop    chan struct{}
	done    chan struct{}
}

type watch struct {
	mu      sync.Mutex
	stopped bool
	changed func()
}

func (w *watcher) init(s *Store) {
	w.s = s
	w.bySubj = make(map[string]map[*watch]struct{})
	w.stop = make(chan struct{})
	w.done = make(chan struct{})
}

// Watch implements [syncd.SharedStore.Watch]. changed is called from the
// store's consumer goroutine, one call at a time for all watches of the
// store; it must not block, nor call stop.
func (s *Store) Watch(doc string, changed func()) (stop func()) {
	subj, err := s.names.log(doc)
	if err != nil || s.closed.Load() {
		return func() {}
	}
	wt := &watch{changed: changed}
	w := &s.watch
	w.mu.Lock()
	set := w.bySubj[subj]
	if set == nil {
		set = make(map[*watch]struct{})
		w.bySubj[subj] = set
	}
	set[wt] = struct{}{}
	if !w.started {
		w.started = true
		go w.run()
	}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		if set := w.bySubj[subj]; set != nil {
			delete(set, wt)
			if len(set) == 0 {
				delete(w.bySubj, subj)
			}
		}
		w.mu.Unlock()
		wt.mu.Lock()
		wt.stopped = true
		wt.mu.Unlock()
	}
}

// run creates the consumer (again and again until it succeeds or the
// store closes) and consumes until the store closes.
func (w *watcher) run() {
	defer close(w.done)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), w.s.opts.RequestTimeout)
		cons, err := w.s.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{w.s.names.logAll},
			DeliverPolicy:  jetstream.DeliverNewPolicy,
			HeadersOnly:    true,
		})
		cancel()
		var cc jetstream.ConsumeContext
		if err == nil {
			cc, err = cons.Consume(w.deliver)
		}
		if err == nil {
			// Whatever was stored between a Watch call and now is not
			// delivered: tell every watch once (a spurious call is
			// allowed; a missed one is not).
			w.notifyAll()
			<-w.stop
			cc.Stop()
			<-cc.Closed()
			return
		}
		select {
		case <-w.stop:
			return
		case <-time.After(wait):
		}
	}
}

func (w *watcher) deliver(m jetstream.Msg) {
	w.notify(m.Subject())
}

func (w *watcher) notify(subj string) {
	w.mu.Lock()
	var ws []*watch
	for wt := range w.bySubj[subj] {
		ws = append(ws, wt)
	}
	w.mu.Unlock()
	for _, wt := range ws {
		wt.call()
	}
}

func (w *watcher) notifyAll() {
	w.mu.Lock()
	var ws []*watch
	for _, set := range w.bySubj {
		for wt := range set {
			ws = append(ws, wt)
		}
	}
	w.mu.Unlock()
	for _, wt := range ws {
		wt.call()
	}
}

func (wt *watch) call() {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	if !wt.stopped {
		wt.changed()
	}
}

// close stops the consumer and waits for its goroutine.
func (w *watcher) close() {
	w.mu.Lock()
	started := w.started
	w.started = true // no consumer starts after this
	w.mu.Unlock()
	close(w.stop)
	if started {
		<-w.done
	}
}
