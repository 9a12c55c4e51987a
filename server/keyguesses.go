package server

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Wrong API keys are rate-limited per client address, so that the key
// (which is also the admin key when -admin-key is not set) cannot be
// guessed online any faster over /v1 than through the admin sign-in. Only
// wrong keys spend tokens: a client with the right key is never slowed
// down, unless its address has run out of them, when every request from it
// waits (answering a right key while refusing wrong ones would let a
// guesser go on, telling its hit by the answer).

const (
	apiGuessRate  = 5  // wrong keys per second per address, sustained
	apiGuessBurst = 60 // and at once
	maxGuessAddrs = 4096
)

// keyGuesses is a table of per-address buckets of wrong guesses.
type keyGuesses struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[netip.Addr]*rate.Limiter
}

func newKeyGuesses(r rate.Limit, burst int) *keyGuesses {
	return &keyGuesses{rate: r, burst: burst, buckets: make(map[netip.Addr]*rate.Limiter)}
}

// wait is how long addr must wait before its next try: 0 if it may try now.
func (g *keyGuesses) wait(addr netip.Addr, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.buckets[addr]
	if l == nil || l.TokensAt(now) >= 1 {
		return 0
	}
	return time.Duration((1 - l.TokensAt(now)) / float64(g.rate) * float64(time.Second))
}

// wrong spends one of addr's tokens on a wrong key.
func (g *keyGuesses) wrong(addr netip.Addr, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.buckets[addr]
	if l == nil {
		if len(g.buckets) >= maxGuessAddrs {
			// Forget the addresses whose bucket has refilled: they have not
			// guessed for a while, so forgetting them loses nothing.
			for a, b := range g.buckets {
				if b.TokensAt(now) >= float64(g.burst) {
					delete(g.buckets, a)
				}
			}
			if len(g.buckets) >= maxGuessAddrs {
				return // a table full of guessers: each is still bounded
			}
		}
		l = rate.NewLimiter(g.rate, g.burst)
		g.buckets[addr] = l
	}
	l.AllowN(now, 1)
}
