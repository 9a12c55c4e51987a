package client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"

	"github.com/deltasync/syncd/protocol"
)

// State is the state of a client's connection.
type State int

const (
	// StateConnecting: no connection; the client is dialling or waiting
	// out a backoff delay.
	StateConnecting State = iota
	// StateConnected: HELLO has arrived; documents are being re-joined or
	// are live.
	StateConnected
	// StateClosed: the client stopped for good (Close, or a close code
	// that says stop). Err says why.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateClosed:
		return "closed"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Client is one syncd client: one WebSocket at a time, reconnected as
// needed, over which any number of documents are joined. All methods are
// safe for concurrent use.
type Client struct {
	opts Options
	urls []string // the endpoints, Options.URL first (servers)
	log  *slog.Logger
	ev   *dispatcher

	ctx    context.Context // the client's life; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the run loop and each session's writer
	done   chan struct{}  // closed when the client stops for good

	closeOnce sync.Once

	idMu    sync.Mutex // guards entropy and lastID
	entropy *ulid.MonotonicEntropy
	lastID  ulid.ULID

	// mu guards everything below, and every Doc's state: one lock for the
	// whole client keeps the reader, edits and reconnects simple, and no
	// I/O is ever done under it (sends only queue).
	mu        sync.Mutex
	clientID  string
	authorID  string   // what operations and rooms show for this client
	sess      *session // nil while disconnected
	state     State
	err       error // why the client stopped
	closed    bool  // Close was called
	docs      map[string]*Doc
	topics    map[string]*subscription
	rpcs      map[string]chan rpcResult
	joins     map[string]*Doc // JOIN correlation id → document
	corr      uint64
	heartbeat time.Duration
	limits    map[string]int64
	urlIdx    int // index in urls of the current or last established connection
}

// Dial connects to the server and waits for its HELLO. With several
// endpoints (Options.URLs) it tries each once, in order, and keeps the
// first that answers. A failure of this first connection is returned as
// is (a *DialError for a refused upgrade; with several endpoints, each
// one's error, joined); after it succeeds the client reconnects by itself,
// failing over between the endpoints, until Close or a close code that
// says stop. ctx bounds only this first connection, not the client's life.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	urls := opts.servers()
	if err := checkServers(urls); err != nil {
		return nil, err
	}
	if opts.ClientID != "" {
		id, err := protocol.ParseClientID(opts.ClientID)
		if err != nil {
			return nil, fmt.Errorf("client: Options.ClientID: %w", err)
		}
		opts.ClientID = id
	}
	o := opts.withDefaults()
	c := &Client{
		opts:     o,
		urls:     urls,
		log:      o.Logger,
		entropy:  newEntropy(),
		clientID: o.ClientID,
		docs:     map[string]*Doc{},
		topics:   map[string]*subscription{},
		rpcs:     map[string]chan rpcResult{},
		joins:    map[string]*Doc{},
		done:     make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	sess, err := c.dialFirst(ctx)
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.ev = newDispatcher()
	c.start(sess)
	c.wg.Add(1)
	go c.run(sess)
	return c, nil
}

// ClientID returns the client's id: Options.ClientID, or the one the
// server assigned in the first HELLO. It never changes.
func (c *Client) ClientID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientID
}

// AuthorID returns the client's public name: what operations, presence
// and room messages show as its clientId (protocol.AuthorID of ClientID).
// Show this one to others; the client id itself is the client's key to its
// edits' de-duplication and its connection, and must stay private.
func (c *Client) AuthorID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.authorID == "" && c.clientID != "" {
		return protocol.AuthorID(c.clientID)
	}
	return c.authorID
}

// State returns the connection's state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Done is closed when the client stops for good; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client stopped: nil while it runs, ErrClosed after
// Close, a *CloseError or *DialError after the server told it to stop.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection with 1000 (normal), stops reconnecting, and
// waits for every goroutine of the client. Pending edits that were not
// acknowledged are lost with the client; documents' views stay readable.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		sess := c.sess
		c.mu.Unlock()
		c.cancel()
		if sess != nil {
			sess.close(websocket.CloseNormalClosure, "client closing")
		}
		c.wg.Wait()
		c.ev.close()
	})
	return nil
}

func newEntropy() *ulid.MonotonicEntropy { return ulid.Monotonic(rand.Reader, 0) }

// newReqID returns a request id greater than every earlier one of this
// client (PROTOCOL.md §9.7): a monotonic ULID whose time never goes back,
// even if the clock does.
func (c *Client) newReqID() string {
	c.idMu.Lock()
	defer c.idMu.Unlock()
	ms := ulid.Timestamp(time.Now())
	if last := c.lastID.Time(); ms < last {
		ms = last
	}
	id, err := ulid.New(ms, c.entropy)
	if err != nil {
		// The 80 random bits overflowed within one millisecond: move to
		// the next one, which starts a fresh random part.
		id = ulid.MustNew(ms+1, c.entropy)
	}
	c.lastID = id
	return id.String()
}

// nextCorrLocked returns a fresh correlation id with a prefix naming its
// use (easier to read in logs).
func (c *Client) nextCorrLocked(prefix string) string {
	c.corr++
	return prefix + strconv.FormatUint(c.corr, 10)
}

func (c *Client) setStateLocked(s State, err error) {
	if c.state == s {
		return
	}
	c.state = s
	if f := c.opts.OnState; f != nil && c.ev != nil {
		c.ev.push(func() { f(s, err) })
	}
}

// --- connections

// session is one WebSocket connection. Its writer goroutine owns writes;
// anything may queue on out without blocking.
type session struct {
	conn      *websocket.Conn
	out       chan []byte
	done      chan struct{} // closed by close
	closeOnce sync.Once
	hello     protocol.Hello
	tokenExp  time.Time // the exp of the token it was opened with; zero: none
	// established: HELLO and every JOIN answer arrived (§9.2 step 5).
	// Guarded by the client's mu.
	established bool
}

// close sends a close frame (best effort) and closes the socket; the
// reader then fails and the session ends.
func (s *session) close(code int, text string) {
	s.closeOnce.Do(func() {
		// done first: the server's echo of our close frame must not be
		// taken by the reader for a close code of the server's (serve).
		close(s.done)
		msg := websocket.FormatCloseMessage(code, text)
		_ = s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		_ = s.conn.Close()
	})
}

// send queues msg for the writer without blocking. A full queue closes the
// connection: reconnecting and resuming resends every pending edit, which
// is cheaper and safer than letting the queue grow or blocking the caller.
func (s *session) send(msg []byte) bool {
	select {
	case s.out <- msg:
		return true
	case <-s.done:
		return false
	default:
		go s.close(websocket.CloseGoingAway, "send queue full")
		return false
	}
}

// connect dials endpoint and waits for HELLO.
func (c *Client) connect(ctx context.Context, endpoint string) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("client: Options.URL: %w", err)
	}
	q := u.Query()
	c.mu.Lock()
	if c.clientID != "" {
		q.Set("clientId", c.clientID)
	}
	c.mu.Unlock()
	// Each attempt carries a value from the request-id source, so the
	// server can tell this attempt from an older one that the network
	// delayed, which must not replace it (PROTOCOL.md §2.2).
	q.Set("attempt", c.newReqID())
	token, err := c.currentToken(ctx)
	if err != nil {
		return nil, &DialError{Err: fmt.Errorf("TokenSource: %w", err)}
	}
	if token != "" {
		q.Set("access_token", token)
	}
	u.RawQuery = q.Encode()
	dialer := websocket.Dialer{HandshakeTimeout: c.opts.DialTimeout}
	conn, resp, err := dialer.DialContext(ctx, u.String(), c.opts.Header)
	if err != nil {
		shown := *u
		shown.RawQuery = "" // may hold the token
		de := &DialError{Err: err, URL: shown.String()}
		if resp != nil {
			de.Status = resp.StatusCode
			resp.Body.Close()
		}
		return nil, de
	}
	deadline, _ := ctx.Deadline()
	conn.SetReadDeadline(deadline)
	_, data, err := conn.ReadMessage()
	if err != nil {
		conn.Close()
		return nil, &DialError{Err: fmt.Errorf("waiting for HELLO: %w", err)}
	}
	var hello protocol.Hello
	if env, err := protocol.DecodeServerEnvelope(data); err != nil || env.Type != protocol.TypeHello {
		conn.Close()
		return nil, &DialError{Err: fmt.Errorf("first message is not HELLO: %.100s", data)}
	} else if err := hello.UnmarshalPayload(env.Payload); err != nil {
		conn.Close()
		return nil, &DialError{Err: fmt.Errorf("HELLO: %w", err)}
	}
	if hello.Protocol != protocol.ProtocolVersion {
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "unsupported protocol"), time.Now().Add(time.Second))
		conn.Close()
		return nil, &CloseError{Code: 1000, Text: "unsupported protocol " + hello.Protocol}
	}
	conn.SetReadDeadline(time.Time{})
	return &session{conn: conn, out: make(chan []byte, c.opts.SendQueue), done: make(chan struct{}), hello: hello, tokenExp: tokenExpiry(token)}, nil
}

// run owns the connection: it serves each session, then reconnects with
// backoff, failing over between the endpoints (failover.go), until the
// client is closed or told to stop.
func (c *Client) run(sess *session) {
	defer c.wg.Done()
	defer close(c.done)
	streak := 0 // attempts since the last established connection (§9.2 step 5)
	for {
		code, err := c.serve(sess)
		sess.close(websocket.CloseNormalClosure, "")
		c.end(sess)
		if c.ctx.Err() != nil {
			c.stop(ErrClosed)
			return
		}
		c.log.Info("syncd client: connection ended", "code", code, "err", err)
		action := protocol.CloseActionOf(code)
		if code == protocol.CloseUnauthenticated && c.opts.TokenSource != nil {
			// The token expired; the TokenSource gives the next
			// connection a new one.
			action = protocol.ActionReconnectBackoff
		}
		if action == protocol.ActionStop {
			c.stop(&CloseError{Code: code, Text: closeText(err)})
			return
		}
		// A connection counts as established once HELLO and every JOIN
		// answer arrived (§9.2 step 5): then the backoff starts over;
		// otherwise it goes on growing (§9.3).
		c.mu.Lock()
		if sess.established {
			streak = 0
		} else {
			streak++
		}
		c.mu.Unlock()
		s, failed, err := c.reconnect(action, code, streak)
		if err != nil {
			c.stop(err)
			return
		}
		streak += failed
		sess = s
		if !c.start(sess) {
			// Close ran while this connection was being made: it saw no
			// session to close, so close this one here.
			sess.close(websocket.CloseNormalClosure, "client closing")
			c.stop(ErrClosed)
			return
		}
	}
}

func closeText(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Text
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// backoff is PROTOCOL.md §9.3: a little jitter for "reconnect at once",
// full jitter over an exponential bound otherwise, at least 5s after 4429.
func (c *Client) backoff(action protocol.CloseAction, code, attempt int) time.Duration {
	if action == protocol.ActionReconnect {
		return time.Duration(mrand.Int64N(int64(min(time.Second, c.opts.MaxBackoff)) + 1))
	}
	bound := c.opts.MaxBackoff
	if attempt < 30 {
		bound = min(bound, c.opts.MinBackoff<<attempt)
	}
	d := time.Duration(mrand.Int64N(int64(bound) + 1))
	if code == protocol.CloseFlood {
		d = max(d, 5*time.Second)
	}
	return d
}

// stop ends the client for good.
func (c *Client) stop(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	c.setStateLocked(StateClosed, c.err)
	for _, d := range c.docs {
		d.notifyLocked()
	}
}

// start makes sess the current session: the writer starts, every document
// is re-joined from its position, every topic re-subscribed. It reports
// false, and starts nothing, when the client was closed meanwhile.
func (c *Client) start(sess *session) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	go c.writer(sess)
	if c.opts.TokenSource != nil && !sess.tokenExp.IsZero() {
		c.wg.Add(1)
		go c.refresher(sess, sess.tokenExp)
	}
	c.clientID = sess.hello.ClientID
	c.authorID = sess.hello.AuthorID
	if c.authorID == "" {
		c.authorID = c.clientID // a server from before author ids
	}
	c.heartbeat = time.Duration(sess.hello.HeartbeatMs) * time.Millisecond
	c.limits = sess.hello.Limits
	c.sess = sess
	c.setStateLocked(StateConnected, nil)
	for _, d := range c.docs {
		d.sendJoinLocked()
	}
	c.checkEstablishedLocked()
	for topic := range c.topics {
		c.sendLocked(protocol.TypeSubscribe, "", protocol.Subscribe{Topic: topic})
	}
	return true
}

// end forgets sess: outstanding RPCs fail, documents stop being live
// until their next catch-up.
func (c *Client) end(sess *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == sess {
		c.sess = nil
	}
	for id, ch := range c.rpcs {
		ch <- rpcResult{err: ErrDisconnected}
		delete(c.rpcs, id)
	}
	clear(c.joins)
	for _, d := range c.docs {
		d.live = false
		d.joinCorr = ""
		d.notifyLocked()
	}
	if !c.closed {
		c.setStateLocked(StateConnecting, nil)
	}
}

// writer writes queued messages and a heartbeat every heartbeatMs, so
// that the server hears from the client and a dead network shows up.
func (c *Client) writer(sess *session) {
	defer c.wg.Done()
	hb := time.Duration(sess.hello.HeartbeatMs) * time.Millisecond
	if hb <= 0 {
		hb = 15 * time.Second
	}
	ticker := time.NewTicker(hb)
	defer ticker.Stop()
	ping := []byte(`{"type":"__heartbeat"}`)
	for {
		var msg []byte
		select {
		case msg = <-sess.out:
		case <-ticker.C:
			msg = ping
		case <-sess.done:
			return
		}
		sess.conn.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		if err := sess.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			sess.close(websocket.CloseAbnormalClosure, "")
			return
		}
	}
}

// serve reads until the connection ends and returns its close code (1006
// when it dropped without one).
func (c *Client) serve(sess *session) (int, error) {
	timeout := 45 * time.Second
	if v := sess.hello.Limits["heartbeatTimeoutMs"]; v > 0 {
		timeout = time.Duration(v) * time.Millisecond
	}
	// A server that pings proves it is alive, like any message.
	sess.conn.SetPingHandler(func(data string) error {
		sess.conn.SetReadDeadline(time.Now().Add(timeout))
		err := sess.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	for {
		sess.conn.SetReadDeadline(time.Now().Add(timeout))
		typ, data, err := sess.conn.ReadMessage()
		if err != nil {
			select {
			case <-sess.done:
				// We closed it ourselves (queue full, write failure, flood
				// guard): what the reader saw may be the server's echo of
				// our own close frame, not a close code of the server.
				return websocket.CloseAbnormalClosure, nil
			default:
			}
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, err
			}
			return websocket.CloseAbnormalClosure, err
		}
		if typ != websocket.TextMessage {
			continue
		}
		c.handle(sess, data)
	}
}

// sendLocked encodes and queues a message on the current session. It
// reports false when there is no connection or the queue was full.
func (c *Client) sendLocked(typ, corr string, payload any) bool {
	if c.sess == nil {
		return false
	}
	msg, err := protocol.AppendMessage(nil, typ, protocol.Meta{Timestamp: protocol.Now(), CorrelationID: corr}, payload)
	if err != nil {
		c.log.Error("syncd client: encoding", "type", typ, "err", err)
		return false
	}
	return c.sess.send(msg)
}

// limit returns a limit announced in HELLO, or 0.
func (c *Client) limitLocked(name string) int64 { return c.limits[name] }

// checkEstablishedLocked marks the current session established once every
// document has its answer (§9.2 step 5): its catch-up, or a refusal that
// will not be retried on this connection.
func (c *Client) checkEstablishedLocked() {
	if c.sess == nil || c.sess.established {
		return
	}
	for _, d := range c.docs {
		if !d.live && !d.joinRefused {
			return
		}
	}
	c.sess.established = true
}
