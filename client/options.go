package client

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Options configure a Client. The zero value is ready to use apart from
// URL (or URLs): every other field documents its default.
type Options struct {
	// URL is the server's WebSocket endpoint, such as
	// "ws://127.0.0.1:8080/ws". Required unless URLs is set.
	URL string

	// URLs are more endpoints of the same service: the instances of one
	// syncd cluster, which share every document's epoch and revisions.
	// The client tries URL first, then URLs in order; it stays with the
	// one that answered, and moves on to the next when that one refuses a
	// connection, drops it, or closes it for its own reasons (shutting
	// down, overloaded), waiting the reconnect backoff before each attempt
	// (see Dial and PROTOCOL.md §9.3). Default none. Listing instances of
	// unrelated servers is a mistake: the client would resume documents
	// against histories they do not share (a different epoch, which costs
	// a snapshot and the outcome of pending edits).
	URLs []string

	// Token, if set, is sent as the access_token query parameter (the
	// first place the server looks for credentials, PROTOCOL.md §2.3).
	Token string

	// TokenSource, if set, supplies the token instead of Token: it is
	// called before every connection, and, while connected, before the
	// token's exp (at three quarters of its remaining life) to send the
	// server a fresh one with AUTH.REFRESH (PROTOCOL.md §4.10), so the
	// connection is not closed with 4401 when the first token expires. A
	// fresh token must be the same user's (sub). ctx is bounded by
	// DialTimeout. An error fails that connection attempt (retried with
	// backoff) or that refresh (retried closer to exp). With it, a 4401
	// close reconnects with a new token instead of stopping. It is called
	// from the client's own goroutines, never two calls at once for one
	// connection.
	TokenSource func(ctx context.Context) (string, error)

	// Header is added to every upgrade request (for example an
	// Authorization header). Default none.
	Header http.Header

	// ClientID is the client's identity, a ULID. Empty: the server assigns
	// one in HELLO and the client keeps it for every later connection.
	// Exactly-once delivery of edits depends on keeping it; the client
	// keeps it across its own reconnects. Two live clients must never
	// share one (the older is closed with 4409 and stops). Keep it
	// private: others see Client.AuthorID.
	ClientID string

	// Logger receives the client's logs. Default: a logger that discards.
	Logger *slog.Logger

	// MinBackoff and MaxBackoff bound the reconnect delay: attempt n waits
	// a random time in [0, min(MaxBackoff, MinBackoff × 2^n)) ("full
	// jitter", PROTOCOL.md §9.3). Defaults 500ms and 30s.
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// DialTimeout bounds one connection attempt, from the TCP dial to
	// HELLO. Default 10s.
	DialTimeout time.Duration

	// WriteTimeout bounds the write of one message. Default 10s.
	WriteTimeout time.Duration

	// SendQueue is how many outgoing messages may wait for the writer. A
	// caller never blocks on it: when it is full the connection is closed
	// and the client reconnects and resumes, which resends every pending
	// edit, so nothing is lost. Default 1024.
	SendQueue int

	// MaxRetries is how many times an edit refused with a retryable code
	// (ABORTED, RESOURCE_EXHAUSTED, UNAVAILABLE, …) is re-issued, rebased
	// and under a new request id, before it is rolled back and reported.
	// Default 3; negative: never. A refusal the server could not decide
	// (UNAVAILABLE, DEADLINE_EXCEEDED: a store election, say) is tried
	// again at least 10 times, backing off from 100 ms to 5 s (~26 s in
	// all). An edit resent after a lost connection and refused so is not
	// re-issued (its earlier copy may still be decided): it goes again
	// under the same id, and is reported with CodeOutcomeUnknown if that
	// never succeeds (PROTOCOL.md §6.8 step 2).
	MaxRetries int

	// ReissueUnknown decides what happens to an edit whose outcome the
	// server cannot tell after a reconnect answered with a snapshot
	// (PROTOCOL.md §6.8 step 5: it may be in the snapshot already, or
	// refused). That is rare: the answer carries the outcomes of the
	// client's last 32 decided edits in the document, so only older ones,
	// and every sent edit after a new epoch, are unknown. Returning true re-issues it under a new id (so it may be
	// applied twice); false drops it and reports it through OnReject with
	// code [CodeOutcomeUnknown]. Default: re-issue merge patches (setting
	// the same values twice is usually harmless), drop JSON Patches.
	ReissueUnknown func(doc string, patch []byte, merge bool) bool

	// OnReject is called for every edit the server refused for good (after
	// the retries above), once the edit has been rolled back. Callbacks run
	// on the client's event goroutine, one at a time, in order.
	OnReject func(Rejection)

	// OnState is called at every connection state change, on the event
	// goroutine.
	OnState func(State, error)

	// OnRevoked is called, on the event goroutine, when the server takes
	// a joined document or a topic subscription away because the token
	// no longer allows it (a refreshed token, PROTOCOL.md §4.10, or the
	// renewal of a subscription after a reconnect). A revoked topic is
	// unsubscribed: its handler is not called again and it is not
	// renewed. A revoked document stops being live; its unsent edits wait
	// for a JOIN, which the next connection tries (and, refused, reports
	// through Settled).
	OnRevoked func(Revocation)
}

// Revocation says what the server took away: a document (Doc) or a topic
// (Topic), and its message.
type Revocation struct {
	Doc, Topic string
	Message    string
}

func (o *Options) withDefaults() Options {
	r := *o
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.MinBackoff <= 0 {
		r.MinBackoff = 500 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 30 * time.Second
	}
	if r.MaxBackoff < r.MinBackoff {
		r.MaxBackoff = r.MinBackoff
	}
	if r.DialTimeout <= 0 {
		r.DialTimeout = 10 * time.Second
	}
	if r.WriteTimeout <= 0 {
		r.WriteTimeout = 10 * time.Second
	}
	if r.SendQueue <= 0 {
		r.SendQueue = 1024
	}
	if r.MaxRetries == 0 {
		r.MaxRetries = 3
	}
	if r.ReissueUnknown == nil {
		r.ReissueUnknown = func(_ string, _ []byte, merge bool) bool { return merge }
	}
	return r
}
