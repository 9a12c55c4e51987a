package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"time"
)

// sender delivers the outbox to one endpoint, one event at a time in seq
// order, which keeps each document's events in order. An event is retried
// until the endpoint accepts it (any 2xx): one dead endpoint holds back
// only its own deliveries, and never a commit.
type sender struct {
	n    *Notifier
	ep   *Endpoint
	wake chan struct{}

	// delivered is the seq through which the endpoint has received every
	// event it subscribes to; saved is the value last written to the side
	// store. Both are guarded by n.mu.
	delivered, saved uint64
}

func (s *sender) run(ctx context.Context) {
	defer s.n.wg.Done()
	failures := 0
	for {
		r := s.next()
		if r == nil {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
				continue
			}
		}
		err := s.post(ctx, r)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			s.n.m.deliveries.WithLabelValues(s.ep.Name, "ok").Inc()
			if failures > 0 {
				s.n.log.Info("webhook endpoint accepts deliveries again", "endpoint", s.ep.Name, "failures", failures)
			}
			failures = 0
			s.n.mu.Lock()
			s.delivered = r.seq
			s.n.mu.Unlock()
			signal(s.n.wake) // let the recorder trim
			continue
		}
		s.n.m.deliveries.WithLabelValues(s.ep.Name, "failed").Inc()
		if failures == 0 {
			s.n.log.Warn("webhook delivery failed; retrying with backoff", "endpoint", s.ep.Name, "event", r.id, "err", err)
		}
		failures++
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.backoff(failures)):
		}
	}
}

// backoff is the wait after the failures-th failed attempt in a row:
// RetryMin doubled per failure up to RetryMax, then a random point in its
// upper half, so that endpoints coming back are not hit by every retry at
// once.
func (s *sender) backoff(failures int) time.Duration {
	o := &s.n.opts
	d := o.RetryMin
	for i := 1; i < failures && d < o.RetryMax; i++ {
		d *= 2
	}
	d = min(d, o.RetryMax)
	return d/2 + rand.N(d/2+1)
}

// next returns the first event after delivered that the endpoint
// subscribes to, or nil; it moves delivered past the events it skips.
func (s *sender) next() *record {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	// The outbox is in seq order: skip what was delivered by binary
	// search, since a dead endpoint elsewhere can make it long.
	first := sort.Search(len(n.outbox), func(i int) bool { return n.outbox[i].seq > s.delivered })
	for _, r := range n.outbox[first:] {
		if s.ep.wants(r.typ) {
			return r
		}
		s.delivered = r.seq
	}
	return nil
}

// post makes one delivery attempt of r.
func (s *sender) post(ctx context.Context, r *record) error {
	ctx, cancel := context.WithTimeout(ctx, s.n.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.ep.URL, bytes.NewReader(r.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "syncd-webhook/1")
	req.Header.Set(HeaderEventID, r.id)
	req.Header.Set(HeaderEventType, r.typ)
	req.Header.Set(HeaderSignature, Sign([]byte(s.ep.Secret), s.n.opts.Now(), r.body))
	resp, err := s.n.opts.Client.Do(req)
	if err != nil {
		return err
	}
	// Drain a little so the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return nil
}
