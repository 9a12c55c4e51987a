package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"github.com/oklog/ulid/v2"

	"github.com/deltasync/syncd/protocol"
)

// target says where and how to connect: to syncd (HELLO, JOIN, snapshot)
// or to the relay (a HELLO once registered, then plain broadcast).
type target struct {
	addr  string // host:port
	relay bool
	doc   string
	// addrs, for a cluster, are every instance's host:port (addr is the
	// first): connections are spread over them round robin (at).
	addrs []string
	// docs, when above 1, spreads connections over that many documents:
	// connection i joins doc-(i mod docs) (writers -docs).
	docs int
}

// at is the target of the i-th connection: on a cluster, instance i mod n.
func (t target) at(i int) target {
	if len(t.addrs) > 1 {
		t.addr = t.addrs[i%len(t.addrs)]
	}
	if t.docs > 1 {
		t.doc = fmt.Sprintf("%s-%d", t.doc, i%t.docs)
	}
	return t
}

// wsConn is one generator connection. Its buffer is reused for every
// frame read, so receiving allocates nothing per message.
type wsConn struct {
	c        *websocket.Conn
	clientID string
	doc      string // the document joined (none on a relay)
	buf      []byte
}

var dialer = websocket.Dialer{
	HandshakeTimeout: 10 * time.Second,
	ReadBufferSize:   16 << 10,
	WriteBufferSize:  4 << 10,
}

// connect dials, waits for HELLO and, for syncd, joins the document and
// waits for its snapshot: when it returns, the connection receives every
// later operation.
func connect(ctx context.Context, t target) (*wsConn, error) {
	id := ulid.Make().String()
	u := url.URL{Scheme: "ws", Host: t.addr, Path: "/ws", RawQuery: "clientId=" + id}
	c, _, err := dialer.DialContext(ctx, u.String(), nil)
	if err != nil {
		return nil, err
	}
	w := &wsConn{c: c, clientID: id, doc: t.doc, buf: make([]byte, 0, 4<<10)}
	deadline := time.Now().Add(15 * time.Second)
	c.SetReadDeadline(deadline)
	if err := w.expect(protocol.TypeHello); err != nil {
		c.Close()
		return nil, err
	}
	if !t.relay {
		msg, _ := protocol.AppendMessage(nil, protocol.TypeJoin, protocol.Meta{}, protocol.Join{Doc: t.doc})
		if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
			c.Close()
			return nil, err
		}
		if err := w.expect(protocol.TypeSyncSnapshot); err != nil {
			c.Close()
			return nil, err
		}
	}
	c.SetReadDeadline(time.Time{})
	return w, nil
}

// expect reads until a message of type typ, failing on an error message.
func (w *wsConn) expect(typ string) error {
	for range 100 { // bounded: HELLO and JOIN's answers are a few messages
		msg, err := w.read()
		if err != nil {
			return err
		}
		env, err := protocol.DecodeEnvelope(msg)
		if err != nil {
			return err
		}
		switch env.Type {
		case typ:
			return nil
		case protocol.TypeError, protocol.TypeRPCError:
			return fmt.Errorf("server: %s", env.Payload)
		}
	}
	return fmt.Errorf("no %s", typ)
}

// read returns the next text frame, in w's buffer (valid until the next
// read).
func (w *wsConn) read() ([]byte, error) {
	for {
		mt, r, err := w.c.NextReader()
		if err != nil {
			return nil, err
		}
		if mt != websocket.TextMessage {
			continue
		}
		w.buf = w.buf[:0]
		for {
			if len(w.buf) == cap(w.buf) {
				w.buf = append(w.buf, 0)[:len(w.buf)]
			}
			n, err := r.Read(w.buf[len(w.buf):cap(w.buf)])
			w.buf = w.buf[:len(w.buf)+n]
			if err == io.EOF {
				return w.buf, nil
			}
			if err != nil {
				return nil, err
			}
		}
	}
}

func (w *wsConn) close() {
	w.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	w.c.Close()
}

// Message kinds the hot path tells apart by prefix. The server encodes
// "type" first (protocol.AppendEnvelope), and so does the relay's echo of
// what the generator sent.
var (
	prefixDeltas = []byte(`{"type":"SYNC.DELTAS"`)
	prefixUpdate = []byte(`{"type":"UPDATE"`)
	prefixError  = []byte(`{"type":"ERROR"`)
	prefixRPCErr = []byte(`{"type":"RPC_ERROR"`)
	stampKey     = []byte(`"~":`)
)

// The send stamp is the key "~", a byte that nothing else in these
// messages contains (ids are ULIDs and digits, the padding is 'x'), so
// finding it is one vectorised IndexByte rather than a substring search
// restarting at every '"' of the JSON: on the generator's profile that
// search was a third of its CPU.
const stampByte = '~'

// clockBase anchors nowNano: every stamp and every receipt time is
// monotonic nanoseconds since it (one clock read, where time.Now reads
// two), and the writer and subscribers share this process.
var clockBase = time.Now()

func nowNano() int64 { return int64(time.Since(clockBase)) }

// isOps reports whether msg carries operations: a SYNC.DELTAS from syncd,
// or an UPDATE echoed by the relay.
func isOps(msg []byte) bool {
	return bytes.HasPrefix(msg, prefixDeltas) || bytes.HasPrefix(msg, prefixUpdate)
}

func isError(msg []byte) bool {
	return bytes.HasPrefix(msg, prefixError) || bytes.HasPrefix(msg, prefixRPCErr)
}

// stamps calls f with the send time stamped in each operation of msg.
// Only the edits the generator makes carry "~" (an integer, nowNano at
// the send), once per operation, so each call is one delivered operation.
func stamps(msg []byte, f func(int64)) {
	for {
		i := bytes.IndexByte(msg, stampByte)
		if i < 1 {
			return
		}
		if !bytes.HasPrefix(msg[i-1:], stampKey) {
			msg = msg[i+1:]
			continue
		}
		msg = msg[i-1+len(stampKey):]
		var v int64
		j := 0
		for j < len(msg) && msg[j] >= '0' && msg[j] <= '9' {
			v = v*10 + int64(msg[j]-'0')
			j++
		}
		msg = msg[j:]
		f(v)
	}
}

// edit builds an UPDATE of about size bytes of patch: a merge patch of key
// k holding the send stamp and padding. reqID must grow (PROTOCOL §6.7).
func edit(dst []byte, doc, key, reqID string, stamp int64, size int) []byte {
	patch := make([]byte, 0, size+32)
	patch = append(patch, `{"`...)
	patch = append(patch, key...)
	patch = append(patch, `":{"~":`...)
	patch = strconv.AppendInt(patch, stamp, 10)
	patch = append(patch, `,"pad":"`...)
	for len(patch) < size-3 {
		patch = append(patch, 'x')
	}
	patch = append(patch, `"}}`...)
	msg, _ := protocol.AppendMessage(dst, protocol.TypeUpdate, protocol.Meta{}, protocol.Update{Doc: doc, Patch: patch, ClientReqID: reqID})
	return msg
}

// reqID is a request id that sorts by (client, seq) under the protocol's
// length-then-bytes order: fixed width, so it grows with seq; it holds
// the client number, so it is unique in the document and a client finds
// its own acknowledgement with one substring search.
func reqID(client, seq int) string {
	return fmt.Sprintf("c%05d.%012d", client, seq)
}

var errClosed = errors.New("connection closed")
