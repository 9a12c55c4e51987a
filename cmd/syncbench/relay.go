package main

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// relay is the benchmark's ceiling: a broadcast relay that does only what
// any WebSocket fan-out must do, and does it the cheap way. A message is
// framed once (PreparedMessage) however many connections get it, and each
// connection's writer writes everything queued for it into a buffered
// writer and flushes once, so a backlog of N messages is one system call.
type relay struct {
	mu    sync.Mutex
	conns map[*relayConn]struct{}
	hello *websocket.PreparedMessage

	messages atomic.Int64 // messages written to connections
	writes   atomic.Int64 // write system calls carrying them
}

// relayStats is what /stats serves.
type relayStats struct {
	Messages int64 `json:"messages"`
	Writes   int64 `json:"writes"`
}

func newRelay() *relay {
	hello, _ := websocket.NewPreparedMessage(websocket.TextMessage, []byte(`{"type":"HELLO"}`))
	return &relay{conns: map[*relayConn]struct{}{}, hello: hello}
}

var relayUpgrader = websocket.Upgrader{
	ReadBufferSize:  4 << 10,
	WriteBufferSize: 4 << 10,
	CheckOrigin:     func(*http.Request) bool { return true },
}

func (rl *relay) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(relayStats{rl.messages.Load(), rl.writes.Load()})
	})
	mux.HandleFunc("/ws", rl.serveWS)
	return mux
}

// relayConn is one connection: a queue its writer goroutine drains.
type relayConn struct {
	ws    *websocket.Conn
	bc    *bufConn
	mu    sync.Mutex
	queue []*websocket.PreparedMessage
	wake  chan struct{}
	done  chan struct{}
}

// maxRelayQueue bounds a connection's backlog: a subscriber that falls
// this far behind is dropped, as any real server would.
const maxRelayQueue = 1 << 16

func (rl *relay) serveWS(w http.ResponseWriter, r *http.Request) {
	var bc *bufConn
	ws, err := relayUpgrader.Upgrade(hijackWrap{w, func(nc net.Conn) net.Conn {
		bc = &bufConn{Conn: nc, rl: rl}
		bc.bw = bufio.NewWriterSize(countingWriter{bc}, 32<<10)
		return bc
	}}, r, nil)
	if err != nil {
		return
	}
	c := &relayConn{ws: ws, bc: bc, wake: make(chan struct{}, 1), done: make(chan struct{})}
	rl.mu.Lock()
	rl.conns[c] = struct{}{}
	rl.mu.Unlock()
	c.enqueue(rl.hello) // registered: it will see every later message
	go c.writeLoop(rl)

	ws.SetReadLimit(1 << 20)
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			break
		}
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
		if err != nil {
			break
		}
		rl.mu.Lock()
		for o := range rl.conns {
			o.enqueue(pm)
		}
		rl.mu.Unlock()
	}
	rl.mu.Lock()
	delete(rl.conns, c)
	rl.mu.Unlock()
	close(c.done)
	ws.Close()
}

func (c *relayConn) enqueue(pm *websocket.PreparedMessage) {
	c.mu.Lock()
	if len(c.queue) < maxRelayQueue {
		c.queue = append(c.queue, pm)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *relayConn) writeLoop(rl *relay) {
	var batch []*websocket.PreparedMessage
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
		}
		c.mu.Lock()
		batch, c.queue = c.queue, batch[:0]
		c.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		c.bc.begin()
		var err error
		for _, pm := range batch {
			if err = c.ws.WritePreparedMessage(pm); err != nil {
				break
			}
		}
		if ferr := c.bc.end(); err == nil {
			err = ferr
		}
		rl.messages.Add(int64(len(batch)))
		clear(batch)
		if err != nil {
			c.ws.Close() // the reader fails and unregisters
			return
		}
	}
}

// bufConn is the hijacked connection under gorilla. Between begin and end
// gorilla's frame writes go into bw and leave in one flush; otherwise (the
// handshake, gorilla's own control frames) they go straight out. mu keeps
// the two from interleaving.
type bufConn struct {
	net.Conn
	rl       *relay
	mu       sync.Mutex
	bw       *bufio.Writer
	batching bool
}

func (b *bufConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.batching {
		return b.bw.Write(p)
	}
	b.rl.writes.Add(1)
	return b.Conn.Write(p)
}

func (b *bufConn) begin() {
	b.mu.Lock()
	b.batching = true
	b.mu.Unlock()
}

func (b *bufConn) end() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = false
	return b.bw.Flush()
}

// countingWriter is bw's destination: it counts the system calls.
type countingWriter struct{ b *bufConn }

func (w countingWriter) Write(p []byte) (int, error) {
	w.b.rl.writes.Add(1)
	return w.b.Conn.Write(p)
}

// hijackWrap hands gorilla's Upgrader our wrapper instead of the raw
// connection: the Upgrader hijacks the connection itself, so this is the
// only place to interpose.
type hijackWrap struct {
	http.ResponseWriter
	wrap func(net.Conn) net.Conn
}

func (h hijackWrap) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return h.wrap(nc), brw, nil
}
