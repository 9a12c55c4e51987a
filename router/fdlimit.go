package router

// The default of Options.MaxConns comes from the process's limit on open
// files (RLIMIT_NOFILE). Go raises the soft limit to the hard limit when
// the os package starts (since Go 1.19, on Unix), so the limit read here
// is already the highest the process can have: syncd does not raise it
// again. Each connection holds one descriptor; the headroom keeps some for
// the store, the listener, health checks, the HTTP API and connections
// still in their handshake (which the caps do not count).

// defaultMaxConns is MaxConns for a process that may open nofile files: an
// eighth of them, and at least 64, are kept back. Zero (no cap) when the
// limit is unknown.
func defaultMaxConns(nofile int) int {
	if nofile <= 0 {
		return 0
	}
	headroom := max(nofile/8, 64)
	if nofile <= 2*headroom {
		return max(1, nofile/2)
	}
	return nofile - headroom
}
