package natsstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
)

// Defaults of [Options].
const (
	DefaultPrefix         = "syncd"
	DefaultReplicas       = 1
	DefaultDuplicates     = 2 * time.Minute
	DefaultRetainOps      = 100_000
	DefaultRequestTimeout = 2 * time.Second
	DefaultMaxDocSize     = 1 << 20
	DefaultHorizon        = 90 * 24 * time.Hour
	// messageOverhead is what a message may carry besides a document's
	// state or a batch's operations: headers, framing, and the watermarks
	// and recent outcomes a snapshot carries (see MessageBytes).
	messageOverhead = 256 << 10
)

// Options configure a [Store]. The zero value means the defaults.
type Options struct {
	// Prefix names the stream and starts every subject the store uses
	// (Prefix.log.<doc>, Prefix.snap.<doc>, Prefix.client.<id>). Letters,
	// digits, '-' and '_' only. Default "syncd". Several syncd clusters may
	// share one NATS system under different prefixes.
	Prefix string
	// Replicas is the stream's replica count (1, 3 or 5). Default 1.
	Replicas int
	// Duplicates is the stream's de-duplication window: how long a
	// retried publish (same Nats-Msg-Id) is recognised as a repeat.
	// Default 2 minutes. Commit resolves a lost acknowledgement by reading
	// the log back, so the window only needs to cover a retry.
	Duplicates time.Duration
	// RetainOps is how many of its newest operations each document's log
	// keeps behind its newest snapshot, like boltstore's Retention: the log
	// is purged (explicitly, after a snapshot is stored) once it exceeds
	// RetainOps by a sixteenth, never past the newest snapshot. Default
	// 100,000; negative keeps every operation.
	RetainOps int
	// RequestTimeout bounds one request to NATS (a publish, a read).
	// A publish whose acknowledgement does not come in time is not an
	// answer: Commit retries it (the same message) and reads the log back
	// until it knows, or until its context ends (a retry is safe: the
	// message's id and condition let at most one copy in). Default 2 s.
	RequestTimeout time.Duration
	// MaxDocSize is the largest encoded document the engine stores (the
	// engine's Options.MaxDocSize); New checks that the server's
	// max_payload fits a snapshot of such a document ([MessageBytes]).
	// Default 1 MiB.
	MaxDocSize int
	// Horizon is how long a client's watermark in a document outlives its
	// last decision there: a snapshot leaves out clients that decided
	// nothing for longer (their watermarks and outcomes), so that a
	// document edited by many short-lived clients keeps small snapshots.
	// A client that returns after the horizon with an edit it sent before
	// may have it applied again. Default 90 days; negative: forever.
	Horizon time.Duration
}

// MessageBytes is the max_payload a NATS server needs for a store whose
// documents are at most maxDocSize bytes: a snapshot carries the whole
// document, and a batch of one document's records is bounded by the same
// size in the engine.
func MessageBytes(maxDocSize int) int {
	if maxDocSize <= 0 {
		maxDocSize = DefaultMaxDocSize
	}
	return maxDocSize + messageOverhead
}

// Store is a [syncd.SharedStore] on a NATS JetStream stream. Create one
// with [New]; its methods are safe for concurrent use, and several Stores
// (in one process or many) may share one stream.
type Store struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	opts   Options
	names  names

	// writer identifies this handle's messages (Syncd-Writer header), so
	// that a read-back can tell its own message from another writer's.
	writer string
	nonce  atomic.Uint64

	cache stateCache
	watch watcher

	// publish sends one message and waits for its acknowledgement; a
	// field so that tests can lose acknowledgements on purpose.
	publish func(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error)

	stats counters // stats.go

	closeOnce sync.Once
	closed    atomic.Bool
}

var (
	_ syncd.Store       = (*Store)(nil)
	_ syncd.SharedStore = (*Store)(nil)
)

// errClosed is returned by every method called after Close.
var errClosed = errors.New("natsstore: store is closed")

// New returns a store on nc, creating the stream (or updating its
// configuration) so that several instances may start at once, and checking
// what the store depends on: JetStream, and a max_payload that fits the
// largest message the store writes. nc stays the caller's: Close does not
// close it.
func New(ctx context.Context, nc *nats.Conn, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if nc == nil {
		return nil, errors.New("natsstore: no NATS connection")
	}
	if need, have := MessageBytes(opts.MaxDocSize), nc.MaxPayload(); int64(need) > have {
		return nil, fmt.Errorf("natsstore: the NATS server's max_payload is %d bytes, but documents of up to %d bytes need messages of %d bytes: raise max_payload (server option max_payload) or lower the document size limit", have, opts.MaxDocSize, need)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("natsstore: %w", err)
	}
	s := &Store{nc: nc, js: js, opts: opts, names: newNames(opts.Prefix)}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("natsstore: writer id: %w", err)
	}
	s.writer = hex.EncodeToString(id[:])
	s.publish = func(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) {
		return s.js.PublishMsg(ctx, m)
	}
	s.cache.init()
	s.watch.init(s)

	// A cluster that has just started (or restarted as a whole) answers
	// JetStream requests only once its meta group and then the stream
	// have leaders, which takes some seconds after the nodes serve: each
	// attempt is bounded, and New tries again until ctx ends (cmd/syncd
	// bounds it by -nats-start-timeout).
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, 4*opts.RequestTimeout)
		if _, err = js.AccountInfo(rctx); err != nil {
			err = fmt.Errorf("natsstore: JetStream is not available on this connection: %w", err)
		} else if s.stream, err = s.openStream(rctx); err != nil {
			err = fmt.Errorf("natsstore: creating or updating stream %q: %w", s.names.stream, err)
		}
		cancel()
		if err == nil {
			break
		}
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return nil, err // no waiting cures that
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (after %d attempts; the context ended: %v)", err, attempt+1, ctx.Err())
		case <-time.After(min(250*time.Millisecond<<min(attempt, 3), 2*time.Second)):
		}
	}
	if cfg := s.stream.CachedInfo().Config; !cfg.AllowDirect || !cfg.AllowRollup {
		return nil, fmt.Errorf("natsstore: stream %q kept allow_direct=%v allow_rollup=%v after the update; want both", s.names.stream, cfg.AllowDirect, cfg.AllowRollup)
	}
	return s, nil
}

// streamConfig is the stream every instance asks for: the same from each,
// so that CreateOrUpdateStream is idempotent.
func (s *Store) streamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        s.names.stream,
		Description: "syncd documents: operation logs, snapshots and client records (store/natsstore)",
		Subjects:    []string{s.names.logAll, s.names.snapAll, s.names.clientAll},
		Retention:   jetstream.LimitsPolicy,
		// No limits by count, size or age: nothing leaves the stream but
		// by an explicit purge or a rollup (doc.go, Retention).
		MaxConsumers:      -1,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgsPerSubject: -1,
		MaxAge:            0,
		Discard:           jetstream.DiscardNew,
		Storage:           jetstream.FileStorage,
		Replicas:          s.opts.Replicas,
		Duplicates:        s.opts.Duplicates,
		DenyDelete:        true,
		AllowRollup:       true,
		// Range reads are batched direct gets, checked against what the
		// leader says (get.go); point reads go to the leader.
		AllowDirect:  true,
		MirrorDirect: false,
	}
}

// openStream returns the stream, creating it or updating its
// configuration only when it differs from the store's: an update is a
// proposal to the cluster's meta group, which instances restarting or
// opening at once need not repeat. Two instances that create it at once
// both succeed (a create of an identical stream is idempotent).
func (s *Store) openStream(ctx context.Context) (jetstream.Stream, error) {
	want := s.streamConfig()
	st, err := s.js.Stream(ctx, want.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		st, err = s.js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return s.js.UpdateStream(ctx, want)
		}
		return st, err
	case err != nil:
		return nil, err
	case sameConfig(st.CachedInfo().Config, want):
		return st, nil
	}
	return s.js.UpdateStream(ctx, want)
}

// sameConfig compares what the store sets in a stream's configuration.
func sameConfig(have, want jetstream.StreamConfig) bool {
	return slices.Equal(slices.Sorted(slices.Values(have.Subjects)), slices.Sorted(slices.Values(want.Subjects))) &&
		have.Retention == want.Retention && have.MaxConsumers == want.MaxConsumers &&
		have.MaxMsgs == want.MaxMsgs && have.MaxBytes == want.MaxBytes &&
		have.MaxMsgsPerSubject == want.MaxMsgsPerSubject && have.MaxAge == want.MaxAge &&
		have.Discard == want.Discard && have.Storage == want.Storage &&
		have.Replicas == want.Replicas && have.Duplicates == want.Duplicates &&
		have.DenyDelete == want.DenyDelete && have.DenyPurge == want.DenyPurge &&
		have.AllowRollup == want.AllowRollup && have.AllowDirect == want.AllowDirect &&
		have.MirrorDirect == want.MirrorDirect && have.Description == want.Description
}

func (o Options) withDefaults() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	for i := 0; i < len(o.Prefix); i++ {
		c := o.Prefix[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return o, fmt.Errorf("natsstore: prefix %q: only letters, digits, '-' and '_' are allowed (it names a stream)", o.Prefix)
		}
	}
	if o.Replicas == 0 {
		o.Replicas = DefaultReplicas
	}
	if o.Replicas < 1 || o.Replicas > 5 {
		return o, fmt.Errorf("natsstore: %d replicas, want 1–5", o.Replicas)
	}
	if o.Duplicates == 0 {
		o.Duplicates = DefaultDuplicates
	}
	if o.Duplicates < 0 {
		return o, fmt.Errorf("natsstore: negative duplicates window %v", o.Duplicates)
	}
	if o.RetainOps == 0 {
		o.RetainOps = DefaultRetainOps
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.RequestTimeout < 0 {
		return o, fmt.Errorf("natsstore: negative request timeout %v", o.RequestTimeout)
	}
	if o.MaxDocSize == 0 {
		o.MaxDocSize = DefaultMaxDocSize
	}
	if o.Horizon == 0 {
		o.Horizon = DefaultHorizon
	}
	return o, nil
}

// Close implements [syncd.Store.Close]: it stops the store's watches and
// forgets its cache. It does not close the NATS connection, which is the
// caller's. Closing twice is harmless.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.watch.close()
		s.cache.clear()
	})
	return nil
}

func (s *Store) checkOpen(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	return ctx.Err()
}

// nextNonce returns a value no other message of any writer carries: this
// handle's writer id and a counter. A retry of one message repeats it.
func (s *Store) nextNonce() string {
	return fmt.Sprintf("%s-%d", s.writer, s.nonce.Add(1))
}

// unavailable wraps err as a transient failure of the store.
func unavailable(what string, err error) error {
	return fmt.Errorf("natsstore: %s: %w: %w", what, syncd.ErrUnavailable, err)
}
