//go:build !unix

package natsnode

import "errors"

// LockFile is not used where flock is not available.
const LockFile = "lock"

// ErrLocked: another process runs a node on the data directory.
var ErrLocked = errors.New("natsnode: the data directory is in use by another process")

// lockDir does nothing here: without flock, the operator must make sure
// one data directory serves one node.
func lockDir(string) (func(), error) { return func() {}, nil }
