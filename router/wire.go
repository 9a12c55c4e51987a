package router

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// wireConn wraps the hijacked network connection of one WebSocket
// connection, below gorilla/websocket.
//
// Why: gorilla writes every frame straight to its net.Conn, one system call
// per frame. The connection's writer goroutine instead encodes the frames of
// everything queued into one buffer and hands it to wireConn in one write,
// so a burst of N messages costs one system call (and, over TLS, one record)
// instead of N. gorilla itself still reads frames, and writes the few
// control frames it writes on its own (the echo of a client's close frame,
// the 1009 close when a message is too big); those go through Write below.
//
// wireConn owns the write deadline: every write gets WriteTimeout, and
// gorilla's own SetWriteDeadline calls are ignored (a zero deadline from
// gorilla must never lift the bound on a write to a stalled client). mu
// serialises writes, so the frames of gorilla's writes and the writer's
// batches never interleave.
type wireConn struct {
	net.Conn
	timeout time.Duration
	conn    *Conn // set once the connection exists; read by Read (partial.go)

	mu        sync.Mutex
	closeSent bool // a close frame went out; nothing may follow it
}

// errCloseSent: a write after the close frame.
var errCloseSent = errors.New("router: close frame already sent")

// Write is gorilla's path: the handshake response and its own control
// frames (each written whole, in one call).
func (w *wireConn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) > 0 && p[0] == 0x80|opClose {
		if w.closeSent {
			return len(p), nil // a second close frame is a protocol error; drop it
		}
		w.closeSent = true
	}
	w.Conn.SetWriteDeadline(time.Now().Add(w.timeout))
	return w.Conn.Write(p)
}

// writeBatch writes a batch of whole frames, then an optional large payload
// that is the tail of the batch's last frame (written without copying it
// into the batch). closing says the batch ends with a close frame.
func (w *wireConn) writeBatch(batch, tail []byte, closing bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closeSent {
		return errCloseSent
	}
	if closing {
		w.closeSent = true
	}
	w.Conn.SetWriteDeadline(time.Now().Add(w.timeout))
	if _, err := w.Conn.Write(batch); err != nil {
		return err
	}
	if len(tail) > 0 {
		_, err := w.Conn.Write(tail)
		return err
	}
	return nil
}

// SetWriteDeadline and SetDeadline ignore write deadlines: see wireConn.
func (w *wireConn) SetWriteDeadline(time.Time) error { return nil }
func (w *wireConn) SetDeadline(t time.Time) error    { return w.Conn.SetReadDeadline(t) }

// hijacker hands gorilla's Upgrader a wireConn in place of the raw
// connection (the only place to interpose, since the Upgrader hijacks the
// connection itself), and a read buffer of the router's own: gorilla reads
// through a hijacked reader larger than 256 bytes instead of making one, and
// owning it lets the reader goroutine see when nothing is buffered, which is
// when it may wait on the socket itself (see awaitInput).
type hijacker struct {
	http.ResponseWriter
	timeout time.Duration
	readers *readerPool // nil: gorilla makes the reader

	// Set by Hijack.
	wire *wireConn
	br   *bufio.Reader // nil: gorilla made its own
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.wire = &wireConn{Conn: nc, timeout: h.timeout}
	// Bytes net/http read past the request belong to the client's first
	// frame: hand gorilla that reader untouched, so that it refuses the
	// upgrade as it always has.
	if h.readers != nil && brw.Reader.Buffered() == 0 {
		h.br = h.readers.get(h.wire)
		brw = bufio.NewReadWriter(h.br, brw.Writer)
	}
	return h.wire, brw, nil
}

// minOwnReadBuffer: gorilla reuses a hijacked reader only if it is larger
// than this; with a smaller ReadBufferSize it makes its own.
const minOwnReadBuffer = 256
