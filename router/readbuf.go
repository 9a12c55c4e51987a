package router

import (
	"bufio"
	"io"
	"sync"
)

// The read buffer. gorilla reads every frame through a bufio.Reader, which
// holds Options.ReadBufferSize bytes for the connection's whole life. The
// router makes that reader itself (see hijacker) and lends it a buffer only
// while the connection is reading: when the reader goroutine hands over to
// a waiting one (see reader.go), nothing is buffered, and the buffer goes
// back to the router's pool; when input arrives, the reader takes one from
// the pool again. An idle connection keeps the reader's fields, not its
// buffer.
//
// bufio.Reader has no way to swap its buffer, so the swap copies the
// Reader value: a carrier (a Reader of the pool, reading from nothing)
// receives the connection's Reader, buffer and all, and the connection's
// Reader, the one gorilla holds, is left empty; taking a buffer is the
// reverse. That is sound only with nothing buffered, and only if no error
// is pending in the Reader: bufio keeps an error that came with data until
// the data is read, and a plain TCP or Unix socket (the only kind the
// reader waits on; see pollable) never returns data and an error together.

// readerPool holds carriers, each with a buffer of one size.
type readerPool struct {
	pool sync.Pool
	size int
}

func newReaderPool(size int) *readerPool {
	p := &readerPool{size: size}
	p.pool.New = func() any { return bufio.NewReaderSize(nil, size) }
	return p
}

// get returns a reader of rd with a pooled buffer.
func (p *readerPool) get(rd io.Reader) *bufio.Reader {
	br := p.pool.Get().(*bufio.Reader)
	br.Reset(rd)
	return br
}

// releaseReadBuffer gives the connection's read buffer back to the pool
// while it waits for input. Only the reader goroutine calls it, with
// nothing buffered (c.idle).
func (c *Conn) releaseReadBuffer() {
	carrier := c.carrier
	if carrier == nil {
		carrier = new(bufio.Reader)
	}
	*carrier = *c.br
	*c.br = bufio.Reader{}
	c.carrier = nil
	c.r.readers.pool.Put(carrier)
}

// takeReadBuffer gives the connection's reader a buffer from the pool,
// before it reads again. It keeps the emptied carrier for the next
// releaseReadBuffer.
func (c *Conn) takeReadBuffer() {
	carrier := c.r.readers.get(c.wire)
	*c.br = *carrier
	*carrier = bufio.Reader{}
	c.carrier = carrier
}
