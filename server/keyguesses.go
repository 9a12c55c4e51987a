package server

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/deltasync/syncd/router"
)

// Keys are not to be guessed online: the admin sign-in limits its tries per
// client address (adminauth.go), and /v1 its wrong API keys. For /v1 only
// wrong keys spend tokens: a client with the right key is never slowed
// down, unless its address has run out of them, when every request from it
// waits (answering a right key while refusing wrong ones would let a
// guesser go on, telling its hit by the answer).

const (
	apiGuessRate  = 5  // wrong API keys per second per address, sustained
	apiGuessBurst = 60 // and at once
	// maxLimitedAddrs bounds each table of addresses.
	maxLimitedAddrs = 4096
)

// addrLimiters is a bounded table of token buckets by client address (an
// IPv6 address's /64: router.AddrGroup).
type addrLimiters struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[netip.Addr]*rate.Limiter
}

func newAddrLimiters(r rate.Limit, burst int) *addrLimiters {
	return &addrLimiters{rate: r, burst: burst, buckets: make(map[netip.Addr]*rate.Limiter)}
}

// get returns addr's bucket, made if needed; nil when the table is full of
// addresses that have spent tokens recently (each of them still bounded).
func (t *addrLimiters) get(addr netip.Addr, now time.Time) *rate.Limiter {
	addr = router.AddrGroup(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	if l := t.buckets[addr]; l != nil {
		return l
	}
	if len(t.buckets) >= maxLimitedAddrs {
		// Forget the addresses whose bucket has refilled: they have not
		// spent a token for a while, so forgetting them loses nothing.
		for a, b := range t.buckets {
			if b.TokensAt(now) >= float64(t.burst) {
				delete(t.buckets, a)
			}
		}
		if len(t.buckets) >= maxLimitedAddrs {
			return nil
		}
	}
	l := rate.NewLimiter(t.rate, t.burst)
	t.buckets[addr] = l
	return l
}

// wait is how long addr must wait for a token: 0 if it has one (or has no
// bucket yet).
func (t *addrLimiters) wait(addr netip.Addr, now time.Time) time.Duration {
	addr = router.AddrGroup(addr)
	t.mu.Lock()
	l := t.buckets[addr]
	t.mu.Unlock()
	if l == nil {
		return 0
	}
	if n := l.TokensAt(now); n < 1 {
		return time.Duration((1 - n) / float64(t.rate) * float64(time.Second))
	}
	return 0
}

// spend takes one of addr's tokens.
func (t *addrLimiters) spend(addr netip.Addr, now time.Time) {
	if l := t.get(addr, now); l != nil {
		l.AllowN(now, 1)
	}
}
