//go:build !unix

package router

// openFileLimit returns 0: the limit is unknown here, and MaxConns has no
// default.
func openFileLimit() int { return 0 }
