package clustertest

import (
	"net"
	"sync"
	"testing"
)

// tcpProxy forwards TCP connections from a port on 127.0.0.1 to target,
// and can fail them two ways, as seen from the instance that connects
// through it: Cut closes every forwarded connection and closes new ones at
// once (a NATS server gone), Stall stops forwarding bytes either way while
// every connection stays open (a network that drops packets: nothing tells
// the client its connection is dead). Restore ends either. The test owns
// it; it is closed, and its goroutines waited for, when the test ends.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	flowing *sync.Cond // signalled when stalled or closing changes
	cut     bool
	stalled bool
	closing bool
	conns   map[net.Conn]struct{}

	wg sync.WaitGroup
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.flowing = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the address to connect to.
func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		if !p.track(in, out) {
			continue
		}
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

// track registers a forwarded pair, unless a Cut came in between (then it
// closes them and returns false).
func (p *tcpProxy) track(in, out net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		in.Close()
		out.Close()
		return false
	}
	p.conns[in], p.conns[out] = struct{}{}, struct{}{}
	return true
}

// pipe copies one way until either side ends, then closes both. While
// stalled, what it read waits.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitFlowing() {
				break
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// Cut closes every forwarded connection and refuses new ones.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// waitFlowing waits while the proxy is stalled; false if it is closing.
func (p *tcpProxy) waitFlowing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.stalled && !p.closing {
		p.flowing.Wait()
	}
	return !p.closing
}

// Stall stops forwarding bytes, keeping every connection open.
func (p *tcpProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
}

// Restore forwards again: new connections after a Cut, bytes after a
// Stall (those held are sent then).
func (p *tcpProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut, p.stalled = false, false
	p.flowing.Broadcast()
}

func (p *tcpProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closing = true
	p.flowing.Broadcast()
	p.mu.Unlock()
	p.Cut()
	p.wg.Wait()
}
