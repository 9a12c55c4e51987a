package client

import "sync"

// dispatcher runs application callbacks on one goroutine, in the order
// they were queued. State changes are queued while the client's lock is
// held, so callbacks see them in the order they happened, but they run
// without any lock: a callback may call back into the client. The queue is
// unbounded, so the reader never waits for a slow callback; a callback that
// never returns stalls only later callbacks.
type dispatcher struct {
	mu   sync.Mutex
	q    []func()
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newDispatcher() *dispatcher {
	d := &dispatcher{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go d.run()
	return d
}

func (d *dispatcher) push(f func()) {
	d.mu.Lock()
	d.q = append(d.q, f)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) run() {
	defer close(d.done)
	for {
		d.mu.Lock()
		q := d.q
		d.q = nil
		d.mu.Unlock()
		for _, f := range q {
			f()
		}
		if len(q) > 0 {
			continue
		}
		select {
		case <-d.wake:
		case <-d.stop:
			// Deliver what was queued before the stop, then end.
			d.mu.Lock()
			q := d.q
			d.q = nil
			d.mu.Unlock()
			for _, f := range q {
				f()
			}
			return
		}
	}
}

// close stops the goroutine after the queued callbacks and waits for it.
func (d *dispatcher) close() {
	close(d.stop)
	<-d.done
}
