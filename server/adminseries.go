package server

import (
	"sync"
	"time"
)

// The admin page's chart: commits and deliveries per second over the last
// minutes. A goroutine samples the existing counters (the engine's
// committed operations, the server's deliveries) once a second into a
// small ring; the page reads the ring. Sampling rather than computing rates
// at each poll keeps the history exact while no page is open.

const (
	// seriesLen is how many per-second samples are kept: five minutes.
	seriesLen = 300
	// seriesInterval is the sampling period.
	seriesInterval = time.Second
)

// rateSeries is the ring of samples and the goroutine that fills it.
type rateSeries struct {
	read func() (commits, deliveries uint64) // the counters, monotonic

	mu          sync.Mutex // guards the fields below
	commits     [seriesLen]uint32
	deliveries  [seriesLen]uint32
	n, next     int // samples held, and the slot of the next one
	lastC       uint64
	lastD       uint64
	started     bool
	stop, ended chan struct{}
}

func newRateSeries(read func() (uint64, uint64)) *rateSeries {
	return &rateSeries{read: read}
}

// start begins sampling; stop ends it and waits for the goroutine. Both
// may be called once, start first; stop without start does nothing.
func (rs *rateSeries) start() {
	rs.mu.Lock()
	rs.lastC, rs.lastD = rs.read()
	rs.started = true
	rs.stop, rs.ended = make(chan struct{}), make(chan struct{})
	rs.mu.Unlock()
	go rs.loop()
}

func (rs *rateSeries) loop() {
	defer close(rs.ended)
	t := time.NewTicker(seriesInterval)
	defer t.Stop()
	for {
		select {
		case <-rs.stop:
			return
		case <-t.C:
			rs.sample()
		}
	}
}

// sample records what the counters did since the previous sample.
func (rs *rateSeries) sample() {
	c, d := rs.read()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.commits[rs.next] = clampUint32(c - rs.lastC)
	rs.deliveries[rs.next] = clampUint32(d - rs.lastD)
	rs.lastC, rs.lastD = c, d
	rs.next = (rs.next + 1) % seriesLen
	rs.n = min(rs.n+1, seriesLen)
}

func clampUint32(v uint64) uint32 {
	if v > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(v)
}

func (rs *rateSeries) close() {
	rs.mu.Lock()
	started := rs.started
	rs.started = false
	rs.mu.Unlock()
	if started {
		close(rs.stop)
		<-rs.ended
	}
}

// snapshot returns the samples held, oldest first.
func (rs *rateSeries) snapshot() (commits, deliveries []uint32) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	commits = make([]uint32, rs.n)
	deliveries = make([]uint32, rs.n)
	first := (rs.next - rs.n + seriesLen) % seriesLen
	for i := range rs.n {
		commits[i] = rs.commits[(first+i)%seriesLen]
		deliveries[i] = rs.deliveries[(first+i)%seriesLen]
	}
	return commits, deliveries
}
