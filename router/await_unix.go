//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package router

import (
	"net"
	"syscall"
)

// pollable reports whether awaitReadable can wait for nc's input: nc is a
// plain TCP or Unix socket, whose Read is exactly a read of the socket.
// Anything else (TLS above all) may hold bytes it has read from the socket
// and not yet returned, which the socket no longer shows.
func pollable(nc net.Conn) bool {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

// awaitReadable blocks until a read of nc would not block: it has bytes,
// has reached EOF or failed, is closed, or its read deadline has passed.
// It reads nothing: the next Read returns what it would have returned
// without the wait. nc must be pollable (otherwise it returns at once).
//
// It asks the socket before it waits (a peek, MSG_PEEK), as the runtime's
// own reads do: the poller reports only what arrives after a read found
// the socket empty, so parking without asking could miss bytes that are
// there already and wait forever. Once the poller has reported input it
// does not ask again: that peek cost a system call per message (5.7% of
// the server's CPU with 10 writers on bbolt), and a report with nothing
// to read after all (a stale edge) only makes the next Read wait in the
// poller itself.
func awaitReadable(nc net.Conn) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	asked := false
	rc.Read(func(fd uintptr) bool {
		if asked {
			return true // the poller reported input since the peek
		}
		asked = true
		return readable(fd)
	}) // an error (closed, deadline) is the next Read's too
}

// readable is awaitReadable's test, called by the poller with the socket.
func readable(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err != syscall.EINTR {
			return err != syscall.EAGAIN
		}
	}
}
