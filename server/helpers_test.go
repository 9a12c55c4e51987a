package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/internal/testenv"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
)

// readTimeout bounds every wait for a message (testenv.Timeout).
const readTimeout = testenv.Timeout

// env is a real server on 127.0.0.1 with an engine over a store
// (testenv.Start), with the names these tests use. It is shut down when
// the test ends (after the test's clients are closed).
type env struct {
	*testenv.Server
	t       testing.TB
	engine  *syncd.Engine
	store   syncd.Store
	server  *server.Server
	metrics *server.Metrics
	base    string // http://127.0.0.1:port
	url     string // ws://127.0.0.1:port/ws
}

func newEnv(t testing.TB, eo syncd.Options, so server.Options) *env {
	t.Helper()
	return newEnvStore(t, nil, eo, so)
}

// newEnvStore is newEnv over st (nil: a new memstore), which it closes.
func newEnvStore(t testing.TB, st syncd.Store, eo syncd.Options, so server.Options) *env {
	t.Helper()
	s := testenv.Start(t, testenv.Options{Engine: eo, Server: so, Store: st})
	return &env{Server: s, t: t, engine: s.Engine, store: s.Store, server: s.Server, metrics: s.Metrics, base: s.Base, url: s.URL}
}

// close shuts the server down, then the engine, then the store. It may be
// called more than once (restart tests call it early).
func (ev *env) close() { ev.Close() }

// --- documents, through the engine (the test's view of the truth)

func (ev *env) commit(doc string, patch any) *syncd.Op {
	ev.t.Helper()
	return ev.Commit(doc, patch)
}

// commitN commits n small merge patches {"n<i>": i} to doc.
func (ev *env) commitN(doc string, n int) revision.Rev {
	ev.t.Helper()
	var last *syncd.Op
	for i := 0; i < n; i++ {
		last = ev.commit(doc, map[string]any{fmt.Sprintf("n%d", i%50): i})
	}
	return last.Rev
}

// pad gives doc a large field, so that catch-up by deltas is smaller than
// the document (otherwise the server rightly sends the snapshot instead).
func (ev *env) pad(doc string, size int) *syncd.Op {
	ev.t.Helper()
	return ev.commit(doc, map[string]any{"pad": strings.Repeat("p", size)})
}

// snapshot returns the engine's durable view of doc.
func (ev *env) snapshot(doc string) *syncd.DocState {
	ev.t.Helper()
	return ev.State(doc)
}

// state returns doc's state decoded.
func (ev *env) state(doc string) map[string]any {
	ev.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.snapshot(doc).State, &m); err != nil {
		ev.t.Fatal(err)
	}
	return m
}

// ops returns every operation of doc still held, in order.
func (ev *env) ops(doc string) []*syncd.Op {
	ev.t.Helper()
	return ev.Ops(doc)
}

// sameSnapshot fails unless doc is still exactly as before.
func (ev *env) sameSnapshot(doc string, before *syncd.DocState) {
	ev.t.Helper()
	now := ev.snapshot(doc)
	if now.Epoch != before.Epoch || now.Rev != before.Rev || !bytes.Equal(now.State, before.State) {
		ev.t.Fatalf("document %s changed: was %s@%d %s, now %s@%d %s", doc, before.Epoch, before.Rev, before.State, now.Epoch, now.Rev, now.State)
	}
}

// --- HTTP

func (ev *env) do(method, path, key string, body any) (int, []byte, http.Header) {
	ev.t.Helper()
	return ev.Do(method, path, key, body)
}

// --- clients

// client is a raw protocol client over a real WebSocket (testenv.Conn).
// It behaves as ws-kit's browser client does: every message it sends
// carries meta.timestamp, and every message it receives is checked against
// strict schemas (see checkWire).
type client struct {
	*testenv.Conn
	t     testing.TB
	ev    *env
	ws    *websocket.Conn
	resp  *http.Response
	hello protocol.Hello
	id    string // the client id (HELLO's)
	// author is the client's author id (HELLO's): what operations,
	// presence and room messages show for it.
	author string
	seq    int // request ids used so far (see nextReq)
	cid    int // correlation ids used so far
	// seen holds the operations ackFrom read past, by "clientId/reqId":
	// several operations may arrive in one SYNC.DELTAS.
	seen map[string]protocol.Operation
}

type msg = testenv.Msg

// dialOpts say how to connect.
type dialOpts struct {
	clientID  string     // the clientId query parameter
	token     string     // the access_token query parameter
	query     url.Values // more query parameters
	protocols []string   // Sec-WebSocket-Protocol entries
	header    http.Header
	rcvBuf    int // SO_RCVBUF of the client's socket, if > 0
	// laddr is the client's own IP, if set: another loopback address
	// (127.0.0.2) is another client address to the server.
	laddr string
}

func (ev *env) dial(query string) *client {
	ev.t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		ev.t.Fatal(err)
	}
	return ev.dialWith(dialOpts{query: q})
}

func (ev *env) dialID(clientID string) *client {
	ev.t.Helper()
	return ev.dialWith(dialOpts{clientID: clientID})
}

func (ev *env) dialWith(o dialOpts) *client {
	ev.t.Helper()
	c, resp, err := ev.tryDial(o)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		ev.t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	return c
}

// tryDial connects and reads HELLO. On a refused upgrade it returns the
// HTTP response with the error.
func (ev *env) tryDial(o dialOpts) (*client, *http.Response, error) {
	return dialURL(ev.t, ev.url, o, ev)
}

func dialURL(t testing.TB, wsURL string, o dialOpts, ev *env) (*client, *http.Response, error) {
	t.Helper()
	q := url.Values{}
	for k, v := range o.query {
		q[k] = v
	}
	if o.clientID != "" {
		q.Set("clientId", o.clientID)
	}
	if o.token != "" {
		q.Set("access_token", o.token)
	}
	conn, resp, err := testenv.DialWS(t, wsURL, testenv.WSOptions{
		Query: q, Protocols: o.protocols, Header: o.header, RcvBuf: o.rcvBuf, LocalIP: o.laddr, Check: checkWire,
	})
	if err != nil {
		return nil, resp, err
	}
	c := &client{Conn: conn, t: t, ev: ev, ws: conn.WS, resp: resp}
	m := c.next(protocol.TypeHello)
	c.hello = decodeAs[protocol.Hello](t, m)
	c.id = c.hello.ClientID
	c.author = c.hello.AuthorID
	if c.author != protocol.AuthorID(c.id) {
		t.Fatalf("HELLO authorId %q, want the author id of %s", c.author, c.id)
	}
	return c, resp, nil
}

// newClientID returns a fresh ULID for a clientId.
func newClientID() string { return ulid.Make().String() }

// nextReq returns the client's next request id; they increase (fixed width,
// so they order as strings and as syncd's request ids).
func (c *client) nextReq() string {
	c.seq++
	return fmt.Sprintf("req-%06d", c.seq)
}

func (c *client) nextCID() string {
	c.cid++
	return fmt.Sprintf("c-%d", c.cid)
}

func (c *client) send(typ string, payload any) {
	c.t.Helper()
	c.Send(typ, "", payload)
}

// sendMeta sends a message as ws-kit's client does: meta.timestamp always,
// meta.correlationId when cid is set.
func (c *client) sendMeta(typ, cid string, payload any) {
	c.t.Helper()
	c.Send(typ, cid, payload)
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	c.SendRaw(s)
}

// tryRead returns the next message, checked against the wire schemas.
func (c *client) tryRead(timeout time.Duration) (msg, error) { return c.TryRead(timeout) }

// read returns the next message, failing the test after readTimeout.
func (c *client) read() msg {
	c.t.Helper()
	return c.Read()
}

// expect reads messages until one of type typ, skipping PRESENCE unless
// asked for, and fails on anything else.
func (c *client) expect(typ string) msg {
	c.t.Helper()
	for {
		m := c.read()
		if m.Type == typ {
			return m
		}
		if m.Type == protocol.TypePresence {
			continue
		}
		c.t.Fatalf("got %s, want %s", m, typ)
	}
}

// next reads the next message and fails unless it is of type typ.
func (c *client) next(typ string) msg {
	c.t.Helper()
	return c.Next(typ)
}

func errorPayload(t testing.TB, m msg) protocol.ErrorPayload {
	t.Helper()
	var p protocol.ErrorPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatalf("error payload %s: %v", m.Payload, err)
	}
	return p
}

// expectError reads (skipping PRESENCE) an ERROR with code.
func (c *client) expectError(code protocol.Code) protocol.ErrorPayload {
	c.t.Helper()
	m := c.expect(protocol.TypeError)
	p := errorPayload(c.t, m)
	if p.Code != code {
		c.t.Fatalf("error %s, want %s", m, code)
	}
	return p
}

// expectRPCError reads (skipping PRESENCE) an RPC_ERROR for cid with code.
func (c *client) expectRPCError(cid string, code protocol.Code) protocol.ErrorPayload {
	c.t.Helper()
	m := c.expect(protocol.TypeRPCError)
	if m.CorrelationID() != cid {
		c.t.Fatalf("RPC_ERROR for %q, want %q: %s", m.CorrelationID(), cid, m)
	}
	p := errorPayload(c.t, m)
	if p.Code != code {
		c.t.Fatalf("error %s, want %s", m, code)
	}
	return p
}

// updateDetails checks that an UPDATE's refusal names the edit.
func updateDetails(t testing.TB, p protocol.ErrorPayload, doc, reqID string) protocol.UpdateErrorDetails {
	t.Helper()
	var d protocol.UpdateErrorDetails
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(p.Details, &keys); err != nil || keys["doc"] == nil || keys["clientReqId"] == nil || keys["serverRev"] == nil {
		t.Fatalf("details %s: want {doc, clientReqId, serverRev}", p.Details)
	}
	if err := json.Unmarshal(p.Details, &d); err != nil {
		t.Fatalf("details %s: %v", p.Details, err)
	}
	if d.Doc != doc || d.ClientReqID != reqID {
		t.Fatalf("details %s: want doc %q clientReqId %q", p.Details, doc, reqID)
	}
	return d
}

// rpcOK sends typ as an RPC and expects <typ>.OK with an empty payload.
func (c *client) rpcOK(typ string, payload any) {
	c.t.Helper()
	cid := c.nextCID()
	c.sendMeta(typ, cid, payload)
	m := c.expect(typ + ".OK")
	if m.CorrelationID() != cid {
		c.t.Fatalf("%s for %q, want %q", m, m.CorrelationID(), cid)
	}
	if p := strings.TrimSpace(string(m.Payload)); p != "" && p != "{}" {
		c.t.Fatalf("%s payload %s, want {}", m.Type, p)
	}
}

// alive proves the connection still works: a HEARTBEAT round trip.
func (c *client) alive() { c.t.Helper(); c.rpcOK(protocol.TypeHeartbeat, map[string]any{}) }

// drain returns every message queued before a HEARTBEAT round trip.
func (c *client) drain() []msg {
	c.t.Helper()
	cid := c.nextCID()
	c.sendMeta(protocol.TypeHeartbeat, cid, map[string]any{})
	var got []msg
	for i := 0; i < 10000; i++ {
		m := c.read()
		if m.Type == protocol.TypeHeartbeat+".OK" && m.CorrelationID() == cid {
			return got
		}
		got = append(got, m)
	}
	c.t.Fatal("drain: no end")
	return nil
}

// quiet fails if anything but PRESENCE is waiting for the client.
func (c *client) quiet() {
	c.t.Helper()
	for _, m := range c.drain() {
		if m.Type != protocol.TypePresence {
			c.t.Fatalf("unexpected %s", m)
		}
	}
}

// update sends an UPDATE (extra adds fields: baseRev, epoch).
func (c *client) update(doc string, patch any, reqID string, extra ...map[string]any) {
	c.t.Helper()
	c.sendMeta(protocol.TypeUpdate, "", updatePayload(doc, patch, reqID, extra...))
}

func updatePayload(doc string, patch any, reqID string, extra ...map[string]any) map[string]any {
	p := map[string]any{"doc": doc, "patch": patch, "clientReqId": reqID}
	for _, e := range extra {
		for k, v := range e {
			p[k] = v
		}
	}
	return p
}

// ack reads until the SYNC.DELTAS that carries the client's own reqID
// (skipping PRESENCE and other deltas) and returns that operation and its
// message.
func (c *client) ack(reqID string) (protocol.Operation, protocol.SyncDeltas) {
	c.t.Helper()
	return c.ackFrom(c.id, reqID)
}

// ackFrom reads until the SYNC.DELTAS that carries the operation of client
// from with reqID.
func (c *client) ackFrom(from, reqID string) (protocol.Operation, protocol.SyncDeltas) {
	c.t.Helper()
	// Operations name their author by author id.
	from = protocol.AuthorID(from)
	key := from + "/" + reqID
	if op, ok := c.seen[key]; ok {
		delete(c.seen, key)
		return op, protocol.SyncDeltas{}
	}
	for i := 0; i < 10000; i++ {
		m := c.expect(protocol.TypeSyncDeltas)
		d := decodeAs[protocol.SyncDeltas](c.t, m)
		if len(d.Operations) == 0 || d.AckedReqID != "" {
			c.t.Fatalf("live SYNC.DELTAS without operations, or with ackedReqId: %s", m)
		}
		var found *protocol.Operation
		for i, op := range d.Operations {
			if op.ClientReqID == reqID && op.ClientID == from {
				found = &d.Operations[i]
			} else if op.ClientReqID != "" {
				if c.seen == nil {
					c.seen = map[string]protocol.Operation{}
				}
				c.seen[op.ClientID+"/"+op.ClientReqID] = op
			}
		}
		if found != nil {
			return *found, d
		}
	}
	c.t.Fatalf("no operation %s/%s", from, reqID)
	return protocol.Operation{}, protocol.SyncDeltas{}
}

// edit sends an UPDATE and waits for its acknowledgement.
func (c *client) edit(doc string, patch any, extra ...map[string]any) protocol.Operation {
	c.t.Helper()
	id := c.nextReq()
	c.update(doc, patch, id, extra...)
	op, _ := c.ack(id)
	return op
}

func decodeAs[T any](t testing.TB, m msg) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(m.Payload, &v); err != nil {
		t.Fatalf("%s payload %s: %v", m.Type, m.Payload, err)
	}
	return v
}

// joinAnswer is the answer to a JOIN: one catch-up message (deltas, or a
// snapshot, or a gap then a snapshot), then the room's presence.
type joinAnswer struct {
	gap      *protocol.RevisionGap
	snap     *protocol.SyncSnapshot
	deltas   *protocol.SyncDeltas
	presence protocol.Presence
	cid      string // the correlationId on the catch-up's terminal message
}

// pos is where the answer leaves the client.
func (a joinAnswer) pos() revision.Position {
	if a.snap != nil {
		return revision.Position{Epoch: a.snap.Epoch, Rev: a.snap.Rev}
	}
	return revision.Position{Epoch: a.deltas.Epoch, Rev: a.deltas.ToRev}
}

func (a joinAnswer) acked() string {
	if a.snap != nil {
		return a.snap.AckedReqID
	}
	return a.deltas.AckedReqID
}

// joinWith sends JOIN with payload (as an RPC if cid is set) and reads its
// answer strictly: nothing may come between its parts.
func (c *client) joinWith(payload map[string]any, cid string) joinAnswer {
	c.t.Helper()
	c.sendMeta(protocol.TypeJoin, cid, payload)
	return c.readJoinAnswer(payload["doc"].(string))
}

func (c *client) readJoinAnswer(doc string) joinAnswer {
	c.t.Helper()
	var a joinAnswer
	m := c.read()
	switch m.Type {
	case protocol.TypeRevisionGap:
		g := decodeAs[protocol.RevisionGap](c.t, m)
		a.gap = &g
		if m.CorrelationID() != "" {
			c.t.Fatalf("REVISION_GAP carries the correlationId; the snapshot is the terminal reply: %s", m)
		}
		m = c.next(protocol.TypeSyncSnapshot)
		fallthrough
	case protocol.TypeSyncSnapshot:
		s := decodeAs[protocol.SyncSnapshot](c.t, m)
		a.snap = &s
	case protocol.TypeSyncDeltas:
		d := decodeAs[protocol.SyncDeltas](c.t, m)
		a.deltas = &d
	default:
		c.t.Fatalf("JOIN %s answered %s", doc, m)
	}
	a.cid = m.CorrelationID()
	p := c.next(protocol.TypePresence)
	a.presence = decodeAs[protocol.Presence](c.t, p)
	if a.presence.Doc != doc || p.CorrelationID() != "" {
		c.t.Fatalf("JOIN %s: presence %s", doc, p)
	}
	return a
}

// join joins doc from scratch and returns the snapshot.
func (c *client) join(doc string) protocol.SyncSnapshot {
	c.t.Helper()
	a := c.joinWith(map[string]any{"doc": doc}, "")
	if a.snap == nil || a.gap != nil {
		c.t.Fatalf("JOIN %s without a position: want a plain snapshot", doc)
	}
	return *a.snap
}

// joinAt joins doc from a position.
func (c *client) joinAt(doc string, pos revision.Position) joinAnswer {
	c.t.Helper()
	p := map[string]any{"doc": doc, "rev": pos.Rev}
	if pos.Epoch != "" {
		p["epoch"] = pos.Epoch
	}
	return c.joinWith(p, "")
}

// closeCode reads until the connection ends and returns the close code the
// server sent (1006 if it sent none).
func (c *client) closeCode() int {
	c.t.Helper()
	return c.CloseCode()
}

// tryCloseCode is closeCode for any goroutine: it reports instead of
// failing the test.
func (c *client) tryCloseCode() (int, error) { return c.TryCloseCode() }

// closeCodeAsync reads c until it closes, on a goroutine of its own, so
// that c answers the server's close frame at once.
func (c *client) closeCodeAsync() <-chan int {
	ch := make(chan int, 1)
	go func() {
		code, err := c.tryCloseCode()
		if err != nil {
			c.t.Error(err)
		}
		ch <- code
	}()
	return ch
}

// receive returns what a channel of closeCodeAsync delivers, within 10 s.
func receive(t testing.TB, ch <-chan int) int {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		t.Fatal("timed out")
	}
	return 0
}

// --- authentication

type docsClaim struct {
	Read  []string `json:"read,omitempty"`
	Write []string `json:"write,omitempty"`
}

// token signs an HS256 JWT for sub; docs may be nil (any document).
func token(t testing.TB, secret, sub string, docs *docsClaim, ttl time.Duration) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": sub, "exp": time.Now().Add(ttl).Unix()}
	if docs != nil {
		claims["docs"] = docs
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// --- metrics

// metricValue sums the samples of a metric family whose labels include
// every label given (name=value pairs).
func (ev *env) metricValue(name string, labels ...string) float64 {
	ev.t.Helper()
	return gatherValue(ev.t, ev.server.Gatherer(), name, labels...)
}

// gatherValue reads a metric from g: a server's Gatherer, which holds the
// engine's, the router's and the bus's metrics besides Options.Metrics.
func gatherValue(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, mt := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range mt.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			switch {
			case mt.Counter != nil:
				sum += mt.Counter.GetValue()
			case mt.Gauge != nil:
				sum += mt.Gauge.GetValue()
			case mt.Histogram != nil:
				sum += float64(mt.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

// waitFor polls cond every 5 ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, timeout, what, cond)
}

// closeCodeOf returns the close code of a read error that is a close frame.
func closeCodeOf(err error) (int, bool) { return testenv.CloseCodeOf(err) }
