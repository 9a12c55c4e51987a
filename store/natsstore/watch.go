package natsstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
)

// watcher follows what the stream stored on every log subject with one
// ordered consumer per store, started at the first Watch, and tells each
// watch of its document's messages, with the operations they hold. An
// ordered consumer reads what the stream stored, in order, and recreates
// itself from the last sequence it delivered after a gap or a
// reconnection, so no stored message is missed; the stream's input subject
// would also carry the publishes the stream refused.
//
// The consumer delivers whole messages, not only their headers, so that a
// watch learns what was stored without reading it back: on a cluster,
// reading each append back (the last message and the epoch's first from
// the leader, then the range) cost every instance several leader requests
// per append. Messages of documents nobody here watches are not decoded.
type watcher struct {
	s       *Store
	mu      sync.Mutex
	bySubj  map[string]*subjWatches
	started bool
	stop    chan struct{}
	done    chan struct{}

	// delivered counts the messages the consumer handed over, so that
	// the watchdog (consumeUntilStalled) sees it make progress.
	delivered atomic.Uint64
	// checkEvery is watchCheckInterval (shorter in tests); stallHook, if
	// set, gets the consume context once it runs (tests stop it).
	checkEvery time.Duration
	stallHook  func(jetstream.ConsumeContext)
}

// subjWatches are the watches of one document's log subject.
type subjWatches struct {
	doc string
	set map[*watch]struct{}
}

type watch struct {
	mu      sync.Mutex
	stopped bool
	changed func(syncd.StoredChange)
}

func (w *watcher) init(s *Store) {
	w.s = s
	w.bySubj = make(map[string]*subjWatches)
	w.stop = make(chan struct{})
	w.done = make(chan struct{})
	w.checkEvery = watchCheckInterval
}

// Watch implements [syncd.SharedStore.Watch]. changed is called from the
// store's consumer goroutine, one call at a time for all watches of the
// store; it must not block, nor call stop.
func (s *Store) Watch(doc string, changed func(syncd.StoredChange)) (stop func()) {
	subj, err := s.names.log(doc)
	if err != nil || s.closed.Load() {
		return func() {}
	}
	wt := &watch{changed: changed}
	w := &s.watch
	w.mu.Lock()
	sw := w.bySubj[subj]
	if sw == nil {
		sw = &subjWatches{doc: doc, set: make(map[*watch]struct{})}
		w.bySubj[subj] = sw
	}
	sw.set[wt] = struct{}{}
	if !w.started {
		w.started = true
		go w.run()
	}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		if sw := w.bySubj[subj]; sw != nil {
			delete(sw.set, wt)
			if len(sw.set) == 0 {
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
// store closes) and consumes until the store closes, creating it again
// whenever it stalls.
func (w *watcher) run() {
	defer close(w.done)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		// Start after the stream's last message, by sequence, not with
		// DeliverNew: an ordered consumer that has delivered nothing yet
		// when it is recreated (a reconnection, a consumer the server
		// lost) starts again from its configured start, and DeliverNew
		// would then skip whatever was stored meanwhile, untold.
		ctx, cancel := context.WithTimeout(context.Background(), w.s.opts.RequestTimeout)
		var cons jetstream.Consumer
		info, err := w.s.stream.Info(ctx)
		if err == nil {
			cons, err = w.s.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
				FilterSubjects: []string{w.s.names.logAll},
				DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
				OptStartSeq:    info.State.LastSeq + 1,
			})
		}
		cancel()
		var cc jetstream.ConsumeContext
		if err == nil {
			cc, err = cons.Consume(w.deliver, jetstream.PullMaxBytes(w.bufferBytes()), jetstream.PullHeartbeat(watchHeartbeat))
		}
		if err == nil {
			// Whatever was stored between a Watch call and now is not
			// delivered: tell every watch once (a spurious call is
			// allowed; a missed one is not).
			w.notifyAll()
			if w.stallHook != nil {
				w.stallHook(cc)
			}
			if !w.consumeUntilStalled(cons, cc) {
				return
			}
			wait = 50 * time.Millisecond
			continue
		}
		select {
		case <-w.stop:
			return
		case <-time.After(wait):
		}
	}
}

// consumeUntilStalled lets the consumer deliver until the store closes
// (false) or the consumer stalls (true, once it is stopped): at two checks
// in a row it delivered nothing while it had messages pending, or it was
// gone. nats.go's ordered consumer recreates itself after missed
// heartbeats, but a test saw one stay silent for a minute after its node
// stopped (TestWatchAfterConsumerNodeDies), and a silent watch leaves this
// instance's subscribers without other writers' operations until
// something else makes it read the log. A check costs one consumer-info
// request, and none while messages flow.
func (w *watcher) consumeUntilStalled(cons jetstream.Consumer, cc jetstream.ConsumeContext) bool {
	tick := time.NewTicker(w.checkEvery)
	defer tick.Stop()
	stop := func() {
		cc.Stop()
		select {
		case <-cc.Closed():
		case <-time.After(w.s.opts.RequestTimeout):
		}
	}
	strikes, last := 0, w.delivered.Load()
	for {
		select {
		case <-w.stop:
			stop()
			return false
		case <-tick.C:
		}
		if n := w.delivered.Load(); n != last {
			strikes, last = 0, n
			continue
		}
		// The ordered consumer holds its lock, which Info takes, for as
		// long as it retries making itself again: ask from another
		// goroutine, and count a consumer busy that long as stalled.
		type answer struct {
			info *jetstream.ConsumerInfo
			err  error
		}
		answered := make(chan answer, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), w.s.opts.RequestTimeout)
			defer cancel()
			info, err := cons.Info(ctx)
			answered <- answer{info, err}
		}()
		select {
		case <-w.stop:
			stop()
			return false
		case a := <-answered:
			switch {
			case errors.Is(a.err, jetstream.ErrConsumerNotFound), a.err == nil && a.info.NumPending > 0:
				strikes++
			default:
				// Nothing pending, or NATS not answering (a consumer
				// made now would not do better).
				strikes = 0
			}
		case <-time.After(2 * w.s.opts.RequestTimeout):
			strikes++
		}
		if strikes >= 2 {
			w.s.stats.watchRestarts.Add(1)
			stop()
			return true
		}
	}
}

// watchCheckInterval is how often consumeUntilStalled checks a consumer
// that delivered nothing since the last check.
const watchCheckInterval = 5 * time.Second

// minWatchBuffer is the least the consumer may hold delivered and not yet
// handed to the watches.
const minWatchBuffer = 16 << 20

// bufferBytes bounds what the consumer holds delivered and not yet handed
// to the watches: whole messages now, not headers, so a count alone (the
// client's default is 500 messages) could hold 500 of the largest. It must
// exceed the largest message the server takes, or the consumer would
// stall on one.
func (w *watcher) bufferBytes() int {
	return int(max(minWatchBuffer, 4*w.s.nc.MaxPayload()))
}

func (w *watcher) deliver(m jetstream.Msg) {
	w.delivered.Add(1)
	subj := m.Subject()
	w.mu.Lock()
	sw := w.bySubj[subj]
	var doc string
	var ws []*watch
	if sw != nil {
		doc = sw.doc
		for wt := range sw.set {
			ws = append(ws, wt)
		}
	}
	w.mu.Unlock()
	if len(ws) == 0 {
		return
	}
	c := storedChange(doc, m)
	for _, wt := range ws {
		wt.call(c)
	}
}

// storedChange says what one stored log message holds for a watch: its
// operations, when it only appended to the epoch it names; otherwise (a
// create, a delete, a roll-up, or a message that does not parse, which a
// read of the log will report) an incomplete change.
func storedChange(doc string, m jetstream.Msg) syncd.StoredChange {
	meta, err := m.Metadata()
	if err != nil {
		return syncd.StoredChange{}
	}
	lm, err := parseLogMsg(doc, &jetstream.RawStreamMsg{Subject: m.Subject(), Sequence: meta.Sequence.Stream, Header: m.Headers(), Data: m.Data(), Time: meta.Timestamp})
	if err != nil || lm.deleted || lm.resets || lm.seq == lm.epochSeq {
		return syncd.StoredChange{}
	}
	recs, err := decodeLog(doc, lm.data)
	if err != nil {
		return syncd.StoredChange{}
	}
	c := syncd.StoredChange{Complete: true, Epoch: lm.epoch}
	for _, r := range recs {
		switch r.kind {
		case recAppend:
			c.Ops = append(c.Ops, r.op)
		case recDecide:
		default:
			return syncd.StoredChange{}
		}
	}
	return c
}

func (w *watcher) notifyAll() {
	w.mu.Lock()
	var ws []*watch
	for _, sw := range w.bySubj {
		for wt := range sw.set {
			ws = append(ws, wt)
		}
	}
	w.mu.Unlock()
	for _, wt := range ws {
		wt.call(syncd.StoredChange{})
	}
}

func (wt *watch) call(c syncd.StoredChange) {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	if !wt.stopped {
		wt.changed(c)
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

// watchHeartbeat is how often the server's idle consumer says it is still
// there. The client recreates the consumer after two missed heartbeats:
// the consumer lives on one node, and when that node stops nothing else
// tells the client (its own connection, to another node, stays up), so
// until then the watches hear nothing of what other writers store. The
// client's default (15 s for a 30 s pull) kept an instance's subscribers
// from other writers' operations for tens of seconds.
const watchHeartbeat = time.Second
