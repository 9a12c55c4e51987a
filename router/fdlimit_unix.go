//go:build unix

package router

import "syscall"

// openFileLimit returns the soft RLIMIT_NOFILE, or 0 if unknown.
func openFileLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return int(min(uint64(rl.Cur), 1<<30))
}
