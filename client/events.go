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

// drain runs the callbacks queued so far, in order, and returns how many
// there were.
func (d *dispatcher) drain() int {
	d.mu.Lock()
	q := d.q
	d.q = nil
	d.mu.Unlock()
	for _, f := range q {
		f()
	}
	return len(q)
}

func (d *dispatcher) run() {
	defer close(d.done)
	for {
		if d.drain() > 0 {
			continue
		}
		select {
		case <-d.wake:
		case <-d.stop:
			d.drain() // what was queued before the stop, then end
			return
		}
	}
}

// close stops the goroutine after the queued callbacks and waits for it.
func (d *dispatcher) close() {
	close(d.stop)
	<-d.done
}

// register adds fn to the callbacks of list, which mu guards.
func register[F any](mu *sync.Mutex, list *[]F, fn F) {
	mu.Lock()
	defer mu.Unlock()
	*list = append(*list, fn)
}
