// Package fsync makes a file's data durable the way syncd's write-ahead log
// does (store/boltstore), so that the load generator's sync probe
// (cmd/syncbench) measures exactly what a durable acknowledgement waits
// for. Standard library only.
package fsync
