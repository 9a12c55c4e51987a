//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package router

import "net"

// pollable: without a way to peek at a socket, the reader waits in
// gorilla's read path (see reader.go).
func pollable(net.Conn) bool { return false }

func awaitReadable(net.Conn) {}
