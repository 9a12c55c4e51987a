package router

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Connection caps. Every connection costs a file descriptor for its whole
// life, and a process that runs out of them can accept nothing at all, not
// even a health check: so the router admits at most Options.MaxConns
// connections in all and Options.MaxConnsPerAddr from one client address,
// and refuses the next upgrade with HTTP 503, a Retry-After header and
// "Connection: close" (so that the refused request's own socket is freed
// at once). The count covers a connection from its admission, just before
// the upgrade, until its socket is closed (finish).
//
// The client address is Options.ClientAddr's answer for the upgrade
// request: by default the host of RemoteAddr; an embedder behind a proxy
// passes a function that knows its proxies.

// connCounter counts the admitted connections, in all and by address
// (an IPv6 address's /64: AddrGroup).
type connCounter struct {
	mu     sync.Mutex // guards total and byAddr; never held across I/O
	total  int
	byAddr map[string]int
}

// acquire admits one more connection from addr unless a cap is reached;
// then it says which. A cap of zero or less is no cap.
func (cc *connCounter) acquire(addr string, maxTotal, maxPerAddr int) (refusal string) {
	addr = addrGroupKey(addr)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if maxTotal > 0 && cc.total >= maxTotal {
		return fmt.Sprintf("too many connections: the server holds at most %d", maxTotal)
	}
	if maxPerAddr > 0 && cc.byAddr[addr] >= maxPerAddr {
		return fmt.Sprintf("too many connections from %s: at most %d per client address", addr, maxPerAddr)
	}
	if cc.byAddr == nil {
		cc.byAddr = make(map[string]int)
	}
	cc.total++
	cc.byAddr[addr]++
	return ""
}

// release ends the count of one connection from addr.
func (cc *connCounter) release(addr string) {
	addr = addrGroupKey(addr)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.total--
	if n := cc.byAddr[addr] - 1; n > 0 {
		cc.byAddr[addr] = n
	} else {
		delete(cc.byAddr, addr) // an address that left costs nothing
	}
}

// counts returns the connections counted, in all and from addr.
func (cc *connCounter) counts(addr string) (total, fromAddr int) {
	addr = addrGroupKey(addr)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.total, cc.byAddr[addr]
}

// admit counts a new connection from the request's client address, or
// answers 503 and returns false. The caller releases the address (see
// Conn.addr) when the connection's socket is closed, or at once if the
// upgrade fails.
func (r *Router) admit(w http.ResponseWriter, req *http.Request) (addr string, ok bool) {
	addr = r.opts.ClientAddr(req)
	refusal := r.counter.acquire(addr, r.opts.MaxConns, r.opts.MaxConnsPerAddr)
	if refusal == "" {
		return addr, true
	}
	w.Header().Set("Retry-After", strconv.Itoa(int((r.opts.ConnRetryAfter+time.Second-1)/time.Second)))
	w.Header().Set("Connection", "close")
	http.Error(w, refusal, http.StatusServiceUnavailable)
	return "", false
}

// RemoteHost is the host of the request's RemoteAddr, the TCP peer, as
// written there (Options.ClientAddr falls back to it when RemoteAddr does
// not parse as an address).
func RemoteHost(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

// ConnCaps returns the connection caps in force, with defaults resolved:
// in all, and from one client address (negative: no cap).
func (r *Router) ConnCaps() (total, perAddr int) { return r.opts.MaxConns, r.opts.MaxConnsPerAddr }

// ConnCounts returns the connections counted against the caps: in all,
// and from the client address addr. A connection counts from just before
// its upgrade until its socket is closed.
func (r *Router) ConnCounts(addr string) (total, fromAddr int) { return r.counter.counts(addr) }
