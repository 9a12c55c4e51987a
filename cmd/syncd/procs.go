package main

import (
	"runtime"
)

// ensureProcsForSyncs gives a server with a durable store at least two Ps
// (GOMAXPROCS) when the runtime would give it one, as it does on one CPU
// or under a one-CPU container limit.
//
// Why: a goroutine blocked in a system call keeps its P until the
// runtime's monitor notices, one to two of its ticks later (20 µs each
// plus the kernel's timer slack; ~130 µs measured on the benchmark
// machine). With one P nothing else runs meanwhile, and the durable store
// blocks in fdatasync for every commit batch, thousands of times a
// second: the echoes of the batch just committed, the reading of the next
// edits and the network poller all waited for the disk, and the committer,
// once its sync returned, waited again (73–171 µs) for a P that others had
// taken. A second P lets them run while one goroutine waits on the disk
// (the P held through a sync: ~40 µs; the wait after it: ~15 µs).
// It adds no parallelism on one CPU (the kernel shares the CPU between the
// threads) and costs some CPU in waking the second thread; measured on a
// busy machine, 10 writers gained 14–15% commits/s and a lower p99 with
// the write-ahead log, while the old bbolt-only commit path lost. The
// numbers are in BENCHMARKS.md ("where the time goes").
//
// GOMAXPROCS set in the environment wins; setting it here stops the
// runtime from following later changes of a container's CPU limit, so it
// is done only when the default is one.
func ensureProcsForSyncs(store string, getenv func(string) string) {
	if store == "memory" || getenv("GOMAXPROCS") != "" {
		return
	}
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
}
