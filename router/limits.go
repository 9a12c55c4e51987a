package router

import (
	"fmt"
	"time"

	"golang.org/x/time/rate"

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
func (c *Conn) admit() bool {
	opts := &c.r.opts
	if opts.MessagesPerSecond < 0 {
		return true
	}
	if c.limiter == nil {
		// Created on the first message: an idle connection does not pay for it.
		c.limiter = rate.NewLimiter(rate.Limit(opts.MessagesPerSecond), opts.Burst)
	}
	now := time.Now()
	if c.limiter.AllowN(now, 1) {
		c.strikes = 0
		return true
	}
	c.strikes++
	// The time until one token is back.
	wait := time.Duration((1 - c.limiter.TokensAt(now)) / opts.MessagesPerSecond * float64(time.Second))
	c.sendError("", &protocol.Error{
		Code:       protocol.CodeResourceExhausted,
		Message:    fmt.Sprintf("rate limit exceeded: at most %g messages per second (burst %d)", opts.MessagesPerSecond, opts.Burst),
		Details:    floodDetails{Limit: opts.MessagesPerSecond, Burst: opts.Burst},
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
}
