package router

import (
	"fmt"
	"time"

	"github.com/deltasync/syncd/protocol"
)

// The flood guard: a token bucket per connection (Options.MessagesPerSecond
// and Burst) checked before a message is even decoded, so flooding costs
// the server as little as possible. A refused message is answered with
// RESOURCE_EXHAUSTED and a retryAfterMs hint (the time until the bucket has
// a token again) and is not handled; Options.FloodCloseAfter refusals in a
// row close the connection with CloseFlood, so a client that ignores the
// hints is cut off rather than answered forever.
//
// The message-size limit is gorilla's read limit (Options.MaxMessageBytes):
// a larger message is not read; gorilla sends close 1009 and the reader
// ends the connection.

// admit reports whether the next message may be handled. Only the reader
// goroutine calls it.
func (c *Conn) admit(msg []byte) bool {
	opts := &c.r.opts
	if opts.MessagesPerSecond < 0 {
		return true
	}
	ok, tokens := c.flood.take(time.Since(c.r.start), opts.MessagesPerSecond, opts.Burst)
	if ok {
		c.strikes = 0
		return true
	}
	c.strikes++
	// The time until one token is back.
	wait := time.Duration((1 - tokens) / opts.MessagesPerSecond * float64(time.Second))
	dropped := leadingType(msg)
	what := "message"
	if dropped != "" {
		what = dropped + " message"
	}
	c.sendError("", &protocol.Error{
		Code:       protocol.CodeResourceExhausted,
		Message:    fmt.Sprintf("rate limit exceeded: %s dropped, at most %g messages per second (burst %d)", what, opts.MessagesPerSecond, opts.Burst),
		Details:    floodDetails{Limit: opts.MessagesPerSecond, Burst: opts.Burst, Type: dropped},
		RetryAfter: max(wait, time.Millisecond),
	})
	if c.strikes >= opts.FloodCloseAfter {
		c.Close(protocol.CloseFlood, "rate limit exceeded repeatedly")
	}
	return false
}

type floodDetails struct {
	Limit float64 `json:"messagesPerSecond"`
	Burst int     `json:"burst"`
	// Type is the dropped message's type, when leadingType could tell.
	Type string `json:"type,omitempty"`
}

// bucket is the flood guard's token bucket, as golang.org/x/time/rate's
// Limiter keeps it, but held in the Conn: a Limiter would be one more
// object on every connection that ever sent a message. debt tokens were
// missing from a full bucket at time at (since the router started); it
// refills at the guard's rate, up to its burst. The zero value is a full
// bucket.
type bucket struct {
	debt float64
	at   time.Duration
}

// take takes a token at now if there is one, and returns whether it did
// and how many tokens the bucket held before.
func (b *bucket) take(now time.Duration, perSecond float64, burst int) (ok bool, tokens float64) {
	debt := max(0, b.debt-(now-b.at).Seconds()*perSecond)
	if debt+1 > float64(burst) {
		return false, float64(burst) - debt
	}
	b.debt, b.at = debt+1, now
	return true, float64(burst) - debt
}
