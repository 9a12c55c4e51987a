package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
)

// Options configure a [Notifier]. The zero value of each field but
// Endpoints means its default.
type Options struct {
	// Endpoints receive the events; at least one.
	Endpoints []Endpoint

	// Debounce is the shortest time between two document.changed events
	// of one document: the first change is reported at once, the changes
	// that follow within Debounce in one event at its end. Default 1 s.
	Debounce time.Duration

	// MaxOutbox bounds the events recorded and not yet delivered to every
	// endpoint. Past it, presence events are dropped (logged and counted
	// in syncd_webhook_dropped_total) and document events wait: their
	// cursors stay behind and the changes are reported, merged, once
	// there is room. Default 100,000.
	MaxOutbox int

	// Timeout bounds one delivery attempt. Default 10 s.
	Timeout time.Duration

	// RetryMin and RetryMax bound the wait between attempts of one
	// event: it doubles from RetryMin up to RetryMax, each wait drawn at
	// random between half and all of it (jitter). Defaults 1 s and 5 min.
	RetryMin, RetryMax time.Duration

	// Client sends the requests. Default: a client that follows no
	// redirects (a 3xx is a failed attempt).
	Client *http.Client

	// Logger receives failures and drops. Default slog.Default().
	Logger *slog.Logger

	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Debounce <= 0 {
		o.Debounce = time.Second
	}
	if o.MaxOutbox <= 0 {
		o.MaxOutbox = 100_000
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Minute
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = o.RetryMin
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Side store spaces (syncd.SideStore) holding the notifier's durable state.
const (
	spaceOutbox  = "webhook.outbox"  // seq (16 hex digits) → event body
	spaceCursor  = "webhook.cursor"  // doc → cursor: the document as last reported
	spacePresent = "webhook.present" // doc "\x00" clientID → "": clients reported joined, not yet left
	spaceSent    = "webhook.sent"    // endpoint name → seq delivered through
	spaceMeta    = "webhook.meta"    // keySeq → last seq used; keyInit → present once cursors were set up
	keySeq       = "seq"
	keyInit      = "init"
)

// Notifier turns the engine's observations into webhook deliveries. It is
// a [syncd.Observer]: pass it in syncd.Options.Observer.
type Notifier struct {
	opts  Options
	store syncd.Store
	side  syncd.SideStore
	log   *slog.Logger
	m     *metrics

	// mu guards the fields below it. Observer calls hold it for a map
	// update only; nothing holds it across I/O.
	mu        sync.Mutex
	docs      map[string][]item        // documents changed since their last report
	presence  []presenceChange         // presence changes not yet recorded
	rooms     map[string]*roomPresence // by presenceKey: who is present where
	reported  map[string]time.Time     // when each document's last changed event was recorded (debounce)
	outbox    []*record                // recorded events, in seq order, not yet delivered everywhere
	recording int                      // presence changes taken by the recorder, not yet in outbox
	dropping  bool                     // presence is being dropped (logged once per burst)
	closed    bool

	nextSeq uint64 // owned by the recorder goroutine (and Start)
	senders []*sender
	wake    chan struct{} // wakes the recorder

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ syncd.Observer = (*Notifier)(nil)

// item is one observation of a document, waiting to be reported.
type item struct {
	kind  syncd.NoticeKind
	epoch revision.Epoch
	head  revision.Rev
}

// presenceChange is a user's first join or last leave of a document:
// key is presenceKey(doc, identity).
type presenceChange struct {
	key    string
	joined bool
}

// record is an event in the outbox.
type record struct {
	seq  uint64
	typ  string
	doc  string
	id   string
	body []byte
}

// cursor is a document as its events last reported it: absent (no
// cursor), or existing in Epoch with revisions up to Rev reported.
type cursor struct {
	Epoch revision.Epoch `json:"epoch"`
	Rev   revision.Rev   `json:"rev"`
}

// New returns a notifier keeping its state in store, which must implement
// syncd.SideStore. Call Start before the engine opens.
func New(store syncd.Store, opts Options) (*Notifier, error) {
	side, ok := store.(syncd.SideStore)
	if !ok {
		return nil, errors.New("webhook: the store has no side store for the outbox")
	}
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("webhook: no endpoints")
	}
	eps := append([]Endpoint(nil), opts.Endpoints...)
	if err := CheckEndpoints(eps); err != nil {
		return nil, err
	}
	opts.Endpoints = eps
	opts = opts.withDefaults()
	n := &Notifier{
		opts: opts, store: store, side: side, log: opts.Logger,
		docs: make(map[string][]item), reported: make(map[string]time.Time), rooms: make(map[string]*roomPresence),
		wake: make(chan struct{}, 1),
	}
	n.m = newMetrics(n)
	for i := range opts.Endpoints {
		n.senders = append(n.senders, &sender{n: n, ep: &opts.Endpoints[i], wake: make(chan struct{}, 1)})
	}
	return n, nil
}

// Committed implements syncd.Observer: it notes the change for the
// recorder and returns.
func (n *Notifier) Committed(c syncd.CommitNotice) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	items := n.docs[c.Doc]
	if k := len(items); c.Kind == syncd.NoticeOp && k > 0 && items[k-1].kind == syncd.NoticeOp && items[k-1].epoch == c.Epoch {
		items[k-1].head = c.Head
	} else {
		items = append(items, item{kind: c.Kind, epoch: c.Epoch, head: c.Head})
	}
	n.docs[c.Doc] = items
	n.mu.Unlock()
	signal(n.wake)
}

// PresenceChanged implements syncd.Observer. It reports a user's first
// join of a document and last leave (a user's several clients count as
// one; a client without a user is a user of its own). Past the outbox's
// bound a join is dropped, logged and counted, and so is then its leave;
// the leave of a join reported is never dropped.
func (n *Notifier) PresenceChanged(doc, clientID, user string, joined bool) {
	key := presenceKey(doc, identity(clientID, user))
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	r := n.rooms[key]
	if joined {
		if r == nil {
			r = &roomPresence{}
			n.rooms[key] = r
		}
		r.clients++
		if r.clients > 1 {
			return
		}
		if len(n.outbox)+len(n.presence)+n.recording >= n.opts.MaxOutbox {
			n.m.dropped.Inc()
			if !n.dropping {
				n.dropping = true
				n.log.Warn("webhook outbox full: dropping presence events until it drains", "max", n.opts.MaxOutbox)
			}
			return
		}
		r.reported = true
	} else {
		if r == nil {
			return
		}
		if r.clients--; r.clients > 0 {
			return
		}
		delete(n.rooms, key)
		if !r.reported {
			return
		}
	}
	n.presence = append(n.presence, presenceChange{key: key, joined: joined})
	signal(n.wake)
}

// roomPresence is one user's presence in one document: how many of its
// clients are there, and whether its join was reported.
type roomPresence struct {
	clients  int
	reported bool
}

// identity names who is present: "u:" and the user, or "a:" and the
// client's author id (never its client id, a credential).
func identity(clientID, user string) string {
	if user != "" {
		return "u:" + user
	}
	return "a:" + protocol.AuthorID(clientID)
}

// setWho names in ev who a presence key is about.
func setWho(ev *Event, who string) {
	switch {
	case strings.HasPrefix(who, "u:"):
		ev.UserID = who[2:]
	case strings.HasPrefix(who, "a:"):
		ev.AuthorID = who[2:]
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Start loads the durable state, reports as left the clients present when
// the server last stopped, compares every document with its cursor to
// find the changes not yet reported, and starts the recorder and one
// sender per endpoint. Call it before the engine commits anything.
func (n *Notifier) Start(ctx context.Context) error {
	if err := n.load(ctx); err != nil {
		return err
	}
	if err := n.recoverPresence(ctx); err != nil {
		return err
	}
	if err := n.reconcile(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(1 + len(n.senders))
	go n.recordLoop(runCtx)
	signal(n.wake) // record what reconcile and recoverPresence found
	for _, s := range n.senders {
		go s.run(runCtx)
	}
	return nil
}

// Close records what is pending, stops the senders (an attempt in flight
// is abandoned and will be retried at the next start) and waits for them.
// Call it after the engine has closed.
func (n *Notifier) Close() error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	if n.cancel != nil {
		n.cancel()
		n.wg.Wait()
	}
	return nil
}

// load reads the outbox, the last seq and the endpoints' delivery cursors.
func (n *Notifier) load(ctx context.Context) error {
	if v, err := n.side.SideGet(ctx, spaceMeta, keySeq); err == nil {
		fmt.Sscanf(string(v), "%d", &n.nextSeq)
	} else if !errors.Is(err, syncd.ErrNotFound) {
		return err
	}
	n.nextSeq++
	after := ""
	for {
		page, err := n.side.SideScan(ctx, spaceOutbox, after, 1000)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			var ev Event
			var seq uint64
			if _, err := fmt.Sscanf(e.Key, "%x", &seq); err != nil || json.Unmarshal(e.Value, &ev) != nil {
				n.log.Error("webhook outbox: skipping an unreadable entry", "key", e.Key)
				continue
			}
			n.outbox = append(n.outbox, &record{seq: seq, typ: ev.Type, doc: ev.Doc, id: ev.ID, body: e.Value})
			if seq >= n.nextSeq {
				n.nextSeq = seq + 1
			}
		}
		after = page[len(page)-1].Key
	}
	for _, s := range n.senders {
		v, err := n.side.SideGet(ctx, spaceSent, s.ep.Name)
		switch {
		case err == nil:
			fmt.Sscanf(string(v), "%d", &s.delivered)
		case !errors.Is(err, syncd.ErrNotFound):
			return err
		}
		s.saved = s.delivered
	}
	n.m.outbox.Set(float64(len(n.outbox)))
	return nil
}

// recoverPresence reports as left every client the last run reported as
// joined and never as left: that run stopped (or crashed) with them
// present, and presence does not survive a restart.
func (n *Notifier) recoverPresence(ctx context.Context) error {
	for {
		page, err := n.side.SideScan(ctx, spacePresent, "", 1000)
		if err != nil || len(page) == 0 {
			return err
		}
		var writes []syncd.SideWrite
		var recs []*record
		for _, e := range page {
			doc, who, _ := cutPresenceKey(e.Key)
			writes = append(writes, syncd.SideWrite{Space: spacePresent, Key: e.Key})
			if len(n.outbox)+len(recs) >= n.opts.MaxOutbox {
				n.m.dropped.Inc()
				continue
			}
			ev := n.newEvent(TypePresenceLeft, doc)
			setWho(ev, who)
			ev.Reason = "restart"
			recs = append(recs, n.stage(ev, &writes))
		}
		if err := n.commitRecords(ctx, writes, recs); err != nil {
			return err
		}
	}
}

// presenceKey is the key of a user's presence in a document. Document ids
// hold no NUL (docid.go), so the first NUL ends the id.
func presenceKey(doc, who string) string { return doc + "\x00" + who }

func cutPresenceKey(k string) (doc, who string, ok bool) {
	return strings.Cut(k, "\x00")
}

// newEvent returns an event of type typ about doc, with a new id.
func (n *Notifier) newEvent(typ, doc string) *Event {
	now := n.opts.Now()
	return &Event{ID: ulid.MustNew(ulid.Timestamp(now), ulid.DefaultEntropy()).String(), Type: typ, Time: now.UTC().Truncate(time.Millisecond), Doc: doc}
}

// stage gives ev the next seq and adds its outbox write to writes.
// Only the recorder (or Start) calls it.
func (n *Notifier) stage(ev *Event, writes *[]syncd.SideWrite) *record {
	r := &record{seq: n.nextSeq, typ: ev.Type, doc: ev.Doc, id: ev.ID, body: ev.encode()}
	n.nextSeq++
	*writes = append(*writes, syncd.SideWrite{Space: spaceOutbox, Key: outboxKey(r.seq), Value: r.body})
	return r
}

// commitRecords writes writes (with the last seq) in one side transaction
// and, once durable, appends recs to the outbox and wakes the senders.
func (n *Notifier) commitRecords(ctx context.Context, writes []syncd.SideWrite, recs []*record) error {
	if len(writes) == 0 {
		return nil
	}
	writes = append(writes, syncd.SideWrite{Space: spaceMeta, Key: keySeq, Value: fmt.Appendf(nil, "%d", n.nextSeq-1)})
	if err := n.side.SideWrite(ctx, writes); err != nil {
		return err
	}
	n.mu.Lock()
	n.recording = 0
	n.outbox = append(n.outbox, recs...)
	n.m.outbox.Set(float64(len(n.outbox)))
	n.mu.Unlock()
	for _, s := range n.senders {
		signal(s.wake)
	}
	return nil
}

func outboxKey(seq uint64) string { return fmt.Sprintf("%016x", seq) }

func fmtUint(v uint64) string { return strconv.FormatUint(v, 10) }
