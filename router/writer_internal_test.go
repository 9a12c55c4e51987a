package router

import (
	"net"
	"sync"
	"testing"
	"time"
)

// blockingConn counts writes; its first Write blocks until release is
// closed, standing for a write in progress on a busy socket.
type blockingConn struct {
	net.Conn
	release chan struct{}
	mu      sync.Mutex
	writes  int
	bytes   int
}

func (b *blockingConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.writes++
	first := b.writes == 1
	b.bytes += len(p)
	b.mu.Unlock()
	if first {
		<-b.release
	}
	return len(p), nil
}

func (b *blockingConn) SetWriteDeadline(time.Time) error { return nil }
func (b *blockingConn) SetReadDeadline(time.Time) error  { return nil }
func (b *blockingConn) Close() error                     { return nil }

// TestWriterCoalesces: messages queued while a write is in progress go out
// together, in one write.
func TestWriterCoalesces(t *testing.T) {
	bc := &blockingConn{release: make(chan struct{})}
	r := &Router{opts: Options{}.withDefaults()}
	c := &Conn{r: r, wire: &wireConn{Conn: bc, timeout: time.Second}}
	c.queue = c.inline[:0]

	frames := make([]*Frame, 100)
	total := 0
	for i := range frames {
		f, err := NewFrame("TICK", map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		frames[i] = f
		total += f.Size()
	}
	if err := c.enqueue(frames[0]); err != nil {
		t.Fatal(err)
	}
	// Wait for the writer to be inside its first write.
	for {
		bc.mu.Lock()
		w := bc.writes
		bc.mu.Unlock()
		if w == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for _, f := range frames[1:] {
		if err := c.enqueue(f); err != nil {
			t.Fatal(err)
		}
	}
	close(bc.release)
	for {
		c.mu.Lock()
		writing := c.writing
		c.mu.Unlock()
		if !writing {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if bc.writes != 2 || bc.bytes != total {
		t.Fatalf("%d writes of %d bytes for 100 frames (%d bytes); want 2 writes", bc.writes, bc.bytes, total)
	}
	if c.queued != 0 || len(c.queue) != 0 || &c.queue[:1][0] != &c.inline[0] {
		t.Fatalf("idle writer left queued=%d len=%d", c.queued, len(c.queue))
	}
	for _, f := range c.inline {
		if f != nil {
			t.Fatal("idle queue holds a frame")
		}
	}
}

func TestFrameHeader(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []byte
	}{
		{0, []byte{0x81, 0}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{65535, []byte{0x81, 126, 0xff, 0xff}},
		{65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		got := appendFrameHeader(nil, opText, tc.n)
		if string(got) != string(tc.want) || len(got) != frameHeaderSize(tc.n) {
			t.Errorf("header(%d) = %x, want %x", tc.n, got, tc.want)
		}
	}
	cf := closeFrame(4409, string(make([]byte, 200)))
	if len(cf.data) != 125 || cf.data[0] != 0x11 || cf.data[1] != 0x39 {
		t.Errorf("close frame %x", cf.data[:2])
	}
	cf = closeFrame(1000, "é"+string(make([]byte, 121))+"é") // cut inside a rune
	if len(cf.data) > 125 || cf.data[len(cf.data)-1] == 0xc3 {
		t.Errorf("close reason cut badly: % x", cf.data[len(cf.data)-3:])
	}
}

func TestNewULID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newULID(time.Now())
		if len(id) != 26 || id[0] > '7' || seen[id] {
			t.Fatalf("bad or repeated ULID %q", id)
		}
		seen[id] = true
	}
	// The time prefix encodes the milliseconds.
	a, b := newULID(time.UnixMilli(1)), newULID(time.UnixMilli(2))
	if a[:10] != "0000000001" || b[:10] != "0000000002" {
		t.Fatalf("time prefix %s %s", a[:10], b[:10])
	}
}
