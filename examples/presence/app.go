package presence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/router"
	"github.com/deltasync/syncd/store/memstore"
)

// DefaultHistory is how many recent operations the meeting keeps for
// catch-up: the size of the seed's ring buffer.
const DefaultHistory = 1024

// Options configure an [App]. The zero value is ready to use: every field
// documents its default.
type Options struct {
	// Doc is the id of the engine document that holds the meeting.
	// Default "meeting".
	Doc string

	// History is how many of the newest operations are kept for catch-up;
	// a client further behind gets REVISION_GAP and a snapshot. Default
	// DefaultHistory (1024). At least 2.
	History int

	// HeartbeatInterval is how often the router pings a connection it has
	// not heard from. Default 15s (how often the seed checks).
	HeartbeatInterval time.Duration
	// HeartbeatTimeout closes a connection silent for this long and
	// removes its participant at once. Default 45s (the seed's).
	HeartbeatTimeout time.Duration
	// CloseTimeout is how long a closing connection waits for the client's
	// close frame. A dead connection's participant is removed when its
	// connection has ended, so this delays that removal. Default 3s.
	CloseTimeout time.Duration
	// DisconnectGrace is how long the participant of a connection that
	// closed without LEAVE stays in the meeting, waiting for its client to
	// reconnect and JOIN again. Default HeartbeatTimeout.
	DisconnectGrace time.Duration

	// MessagesPerSecond is each connection's flood guard (the router's):
	// messages beyond it are answered RESOURCE_EXHAUSTED. Default 50;
	// negative disables it.
	MessagesPerSecond float64

	// AllowedOrigins lists the browser origins allowed to connect beyond
	// the server's own (see router.Options). Default none.
	AllowedOrigins []string

	// Now is the clock that stamps lastActive on JOIN. Default time.Now.
	Now func() time.Time

	// Logger receives the App's logs. Default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.Doc == "" {
		o.Doc = "meeting"
	}
	if err := syncd.ValidateDocID(o.Doc); err != nil {
		return o, fmt.Errorf("presence: Options.Doc: %w", err)
	}
	if o.History == 0 {
		o.History = DefaultHistory
	}
	if o.History < 2 {
		return o, fmt.Errorf("presence: Options.History must be at least 2, got %d", o.History)
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 15 * time.Second
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = 45 * time.Second
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = 3 * time.Second
	}
	if o.DisconnectGrace <= 0 {
		o.DisconnectGrace = o.HeartbeatTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// retention is how many operations the store keeps for a history of h. The
// engine serves catch-up from its ring (the last h operations) and, for
// older revisions, from the store. For the meeting to keep exactly h, the
// store must never hold an operation the ring has dropped. memstore trims
// its log once it exceeds Retention by a sixteenth, so it holds up to
// Retention + Retention/16 operations: Retention = 16h/17 keeps that within
// h.
func retention(h int) int { return max(1, h*16/17) }

// snapshotInterval is how often the engine writes a snapshot for a history
// of h. memstore never trims past the newest snapshot, so snapshots must
// come more often than the retention, or the log would outgrow it.
func snapshotInterval(h int) int { return max(1, retention(h)/4) }

// App is the meeting: a router speaking the seed's messages in front of an
// embedded engine. Create it with [New], serve [App.Handler], and end it
// with [App.Shutdown] or [App.Close]. See the package documentation for
// its rules and its goroutines.
type App struct {
	opts   Options
	log    *slog.Logger
	store  *memstore.Store
	engine *syncd.Engine
	router *router.Router
	mux    *http.ServeMux

	// mu guards members, closing and every session's pid; membership
	// decisions and UPDATEs are made under it. Never taken on the engine's
	// committer goroutine (sinks, commit callbacks).
	mu      sync.Mutex
	members map[string]*member
	closing bool

	// timers counts grace removals scheduled and neither stopped nor
	// finished.
	timers sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// member is a participant of the meeting, as far as connections go.
type member struct {
	// owner is the connection that speaks for the participant; nil while
	// the participant waits out its grace period.
	owner *session
	// grace is the pending removal while owner is nil.
	grace *time.Timer
}

// session is one connection's state.
type session struct {
	conn *router.Conn
	// pid is the participant the connection joined as ("" before JOIN,
	// after LEAVE, and once another connection took the participant over).
	// Guarded by App.mu.
	pid string
	// sub is the connection's subscription to the meeting. Owned by the
	// connection's reader goroutine.
	sub *syncd.Subscription
}

const sessionKey = "presence.session"

// New starts a meeting: an in-memory store, an engine over it, and a router
// with the seed's message handlers.
func New(opts Options) (*App, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &App{opts: o, log: o.Logger, members: make(map[string]*member)}
	a.store = memstore.New(memstore.Options{Retention: retention(o.History)})
	a.engine, err = syncd.Open(a.store, syncd.Options{
		RingSize:         o.History,
		SnapshotInterval: snapshotInterval(o.History),
		// Each participant writes only its own entry: no two clients'
		// edits can conflict, so the order of arrival is the answer.
		Policies: map[string]syncd.Policy{o.Doc: syncd.PolicyLWW},
		Validate: validate,
		Logger:   o.Logger,
	})
	if err != nil {
		a.store.Close()
		return nil, err
	}
	// Create the document now, so that JOIN can always read it: reading
	// never creates, and the first JOIN's revision must be 1, as in the
	// seed.
	sub, err := a.engine.Subscribe(context.Background(), o.Doc, syncd.SubscribeRequest{}, func(*syncd.Event) {})
	if err != nil {
		a.engine.Close()
		a.store.Close()
		return nil, err
	}
	sub.Close()

	a.router = router.New(router.Options{
		HeartbeatInterval: o.HeartbeatInterval,
		HeartbeatTimeout:  o.HeartbeatTimeout,
		CloseTimeout:      o.CloseTimeout,
		MessagesPerSecond: o.MessagesPerSecond,
		AllowedOrigins:    o.AllowedOrigins,
		OnOpen:            a.onOpen,
		OnStale:           a.onStale,
		OnClose:           a.onClose,
		OnError:           a.onError,
	})
	router.Handle(a.router, TypeJoin, a.join)
	router.Handle(a.router, TypeUpdate, a.update)
	router.Handle(a.router, TypeLeave, a.leave)
	router.Handle(a.router, TypeHeartbeat, a.heartbeat)

	a.mux = http.NewServeMux()
	a.mux.Handle("/ws", a.router)
	a.mux.HandleFunc("/", a.index)
	return a, nil
}

// Handler returns the App's HTTP handler: the WebSocket endpoint at /ws,
// and a page at / that says how to use it (a browser console on that page
// is same-origin, so it may connect).
func (a *App) Handler() http.Handler { return a.mux }

func (a *App) index(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "syncd presence example: connect a WebSocket to /ws and send\n"+
		`{"type":"JOIN","payload":{"participantId":"alice","name":"Alice"}}`+"\n"+
		"See examples/presence/README.md.\n")
}

// Shutdown closes every connection (with 1001, "going away"), waits for
// their hooks, stops the grace timers, then closes the engine and the
// store. If ctx ends first, connections are dropped without ceremony and
// ctx's error is returned. Later calls return the first call's result.
func (a *App) Shutdown(ctx context.Context) error {
	a.shutdownOnce.Do(func() {
		a.mu.Lock()
		// From here on, hooks and handlers leave the meeting as it is: the
		// whole meeting is going away.
		a.closing = true
		for _, m := range a.members {
			a.stopGraceLocked(m)
		}
		a.mu.Unlock()
		err := a.router.Shutdown(ctx)
		a.timers.Wait()
		a.shutdownErr = errors.Join(err, a.engine.Close(), a.store.Close())
	})
	return a.shutdownErr
}

// Close is Shutdown with no deadline beyond the router's own timeouts.
func (a *App) Close() error { return a.Shutdown(context.Background()) }

// State is the meeting at a revision.
type State struct {
	Rev          uint64
	Participants map[string]Participant
}

// State returns the meeting at its newest durable revision.
func (a *App) State(ctx context.Context) (State, error) {
	snap, err := a.engine.State(ctx, a.opts.Doc)
	if err != nil {
		return State{}, err
	}
	st := State{Rev: uint64(snap.Rev)}
	if err := json.Unmarshal(snap.State, &st.Participants); err != nil {
		return State{}, fmt.Errorf("presence: the meeting does not decode: %w", err)
	}
	return st, nil
}

func (a *App) onOpen(c *router.Conn) { c.Set(sessionKey, &session{conn: c}) }

// sessionOf returns c's session, or nil if OnOpen never ran for it (a
// connection refused during shutdown).
func sessionOf(c *router.Conn) *session {
	v, _ := c.Get(sessionKey)
	s, _ := v.(*session)
	return s
}

func (a *App) onError(c *router.Conn, err error) {
	a.log.Debug("presence: message refused", "client", c.ClientID(), "err", err)
}
