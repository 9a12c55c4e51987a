// Package natsbus is the cluster bus of syncd (server.Bus) on core NATS:
// plain publish and subscribe, at most once, no JetStream. What the
// instances of a cluster tell each other outside the document log (room
// messages, presence, heartbeats, client id claims) is ephemeral, so it
// needs neither a replicated log nor an acknowledgement; the server's
// heartbeats repair whatever a lost message leaves behind. The one
// exception is request and reply (Request, Serve), which carries the edits
// of a contended document to the instance that decides them
// (server/cluster_forward.go): a request is answered, or known not to
// have been delivered, or times out.
//
// The Bus does not own its *nats.Conn: the caller connects, and closes the
// connection after the server is shut down. Subjects are the server's,
// under the prefix given to New, so that several clusters (or tests) can
// share one NATS system.
package natsbus

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// SubscribeTimeout bounds Subscribe's wait for the NATS server.
const SubscribeTimeout = 2 * time.Second

// Bus is a server.Bus on a NATS connection.
type Bus struct {
	nc     *nats.Conn
	prefix string // with its trailing "."
	id     string

	// Requests (Request): the reply subscription, made at the first, its
	// subjects' prefix, and the requests waiting for an answer by token.
	reqMu    sync.Mutex
	replySub *nats.Subscription
	inbox    string
	reqSeq   uint64
	waiting  map[string]*request
}

// Options configure New. The zero value is ready to use.
type Options struct {
	// ID names this instance among the cluster's. Default: 16 random
	// bytes in hex, new for every New, as server.Bus.ID asks (a restarted
	// process is a new instance). Set it only to something as unique.
	ID string
}

// New returns a bus on nc whose subjects start with prefix (one or more
// subject tokens, e.g. "syncd.bus"; no wildcards).
func New(nc *nats.Conn, prefix string, opts Options) (*Bus, error) {
	if nc == nil {
		return nil, errors.New("natsbus: New needs a NATS connection")
	}
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	id := opts.ID
	if id == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("natsbus: instance id: %w", err)
		}
		id = hex.EncodeToString(b[:])
	}
	if strings.ContainsAny(id, "\n\r") {
		return nil, errors.New("natsbus: an instance id must not contain a newline")
	}
	return &Bus{nc: nc, prefix: prefix + ".", id: id}, nil
}

// validPrefix checks that prefix is a literal subject: tokens without
// wildcards, spaces or empty tokens.
func validPrefix(prefix string) error {
	if prefix == "" {
		return errors.New("natsbus: empty subject prefix")
	}
	for _, tok := range strings.Split(prefix, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n*>") {
			return fmt.Errorf("natsbus: subject prefix %q: want dot-separated tokens without wildcards or spaces", prefix)
		}
	}
	return nil
}

// ID returns this instance's id.
func (b *Bus) ID() string { return b.id }

// Publish sends data on the prefixed subject. nats.go copies data into its
// write buffer and sends it from its flusher, so this does not wait for
// the network; while the connection is reconnecting it buffers up to the
// connection's ReconnectBufSize, then fails.
func (b *Bus) Publish(subject string, data []byte) error {
	return b.nc.Publish(b.prefix+subject, data)
}

// Subscribe calls handler with each message on the prefixed subject, one
// at a time, from a goroutine of the subscription's own (nats.go's
// asynchronous subscription), until unsubscribe. A subscriber slower than
// nats.go's pending limits loses messages (at most once, as the bus
// promises).
//
// It returns once the NATS server has the subscription (a round trip,
// bounded by SubscribeTimeout), so that what is published after, by any
// instance, reaches it: a client whose JOIN was answered gets every room
// message sent after the answer. If the round trip fails the subscription
// stands anyway, and nats.go renews it when it reconnects.
func (b *Bus) Subscribe(subject string, handler func(data []byte)) (unsubscribe func() error, err error) {
	sub, err := b.nc.Subscribe(b.prefix+subject, func(m *nats.Msg) { handler(m.Data) })
	if err != nil {
		return nil, err
	}
	return b.settled(sub), nil
}

// Request sends data on the prefixed subject with a reply address of this
// bus's own, and calls reply once: with the answer; with notDelivered set
// when nobody subscribes to the subject (NATS answers "no responders") or
// the message could not be sent; or with an error after timeout, when the
// request may or may not have been handled. It does not wait for the
// network, and never calls reply before it returns.
//
// Requests travel on the bus's one connection, so one subscriber gets
// them in the order sent. The answers come on one subscription of the
// bus's (made at the first request), one at a time; a timeout's reply
// comes from a timer's goroutine.
func (b *Bus) Request(subject string, data []byte, timeout time.Duration, reply func(answer []byte, notDelivered bool, err error)) {
	r := &request{reply: reply}
	b.reqMu.Lock()
	if err := b.replySubLocked(); err != nil {
		b.reqMu.Unlock()
		r.fail(true, err)
		return
	}
	b.reqSeq++
	token := strconv.FormatUint(b.reqSeq, 36)
	if b.waiting == nil {
		b.waiting = make(map[string]*request)
	}
	b.waiting[token] = r
	r.timer = time.AfterFunc(timeout, func() { b.settle(token, nil, false, nil) })
	b.reqMu.Unlock()
	err := b.nc.PublishMsg(&nats.Msg{Subject: b.prefix + subject, Reply: b.inbox + token, Data: data})
	if err != nil {
		b.reqMu.Lock()
		r.notDelivered, r.err = true, err
		b.reqMu.Unlock()
		r.timer.Reset(0) // reply from the timer's goroutine, not this one
	}
}

// request is one Request waiting for its answer.
type request struct {
	reply        func([]byte, bool, error)
	timer        *time.Timer
	notDelivered bool  // with err: what the timer reports, if it fires first
	err          error // nil: a timeout
}

// fail reports a request that could not be sent, from a goroutine of its
// own (Request must not call reply before it returns).
func (r *request) fail(notDelivered bool, err error) {
	time.AfterFunc(0, func() { r.reply(nil, notDelivered, err) })
}

// ErrRequestTimeout is the error of a request that had no answer in time.
var ErrRequestTimeout = errors.New("natsbus: no answer in time")

// replySubLocked subscribes to the bus's reply addresses, once. b.reqMu
// must be held.
func (b *Bus) replySubLocked() error {
	if b.replySub != nil {
		return nil
	}
	inbox := b.nc.NewRespInbox()
	inbox = inbox[:strings.LastIndexByte(inbox, '.')+1]
	sub, err := b.nc.Subscribe(inbox+"*", func(m *nats.Msg) {
		noResponders := len(m.Data) == 0 && m.Header.Get("Status") == "503"
		var err error
		if noResponders {
			err = nats.ErrNoResponders
		}
		answer := m.Data
		if answer == nil {
			answer = []byte{} // nil is the timer's (settle)
		}
		b.settle(strings.TrimPrefix(m.Subject, b.inbox), answer, noResponders, err)
	})
	if err != nil {
		return err
	}
	b.inbox, b.replySub = inbox, sub
	return nil
}

// settle calls the reply of the request of token, if it is still waiting:
// with an answer, or (answer and err nil) from its timer.
func (b *Bus) settle(token string, answer []byte, notDelivered bool, err error) {
	b.reqMu.Lock()
	r := b.waiting[token]
	delete(b.waiting, token)
	if r != nil && answer == nil && err == nil {
		// The timer: a timeout, or a send that failed (Request).
		notDelivered, err = r.notDelivered, r.err
		if err == nil {
			err = ErrRequestTimeout
		}
	}
	b.reqMu.Unlock()
	if r == nil {
		return // answered already (a late answer after a timeout, or the reverse)
	}
	r.timer.Stop()
	r.reply(answer, notDelivered, err)
}

// Serve calls handler with each request on the prefixed subject, one at a
// time and in the order each requester sent them, from the subscription's
// goroutine, until unsubscribe; respond sends the answer to the
// requester, once, from any goroutine. handler must not keep data.
func (b *Bus) Serve(subject string, handler func(data []byte, respond func(answer []byte))) (unsubscribe func() error, err error) {
	sub, err := b.nc.Subscribe(b.prefix+subject, func(m *nats.Msg) {
		handler(m.Data, func(answer []byte) {
			if m.Reply != "" {
				m.Respond(answer) // lost with the connection: the requester times out
			}
		})
	})
	if err != nil {
		return nil, err
	}
	return b.settled(sub), nil
}

// settled waits until the NATS server has sub (a round trip, bounded by
// SubscribeTimeout) and returns its unsubscribe, for which a subscription
// gone with its connection, or already ended, is no error.
func (b *Bus) settled(sub *nats.Subscription) (unsubscribe func() error) {
	b.nc.FlushTimeout(SubscribeTimeout)
	return func() error {
		err := sub.Unsubscribe()
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
			return nil
		}
		return err
	}
}
