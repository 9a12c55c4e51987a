package main

import (
	"github.com/deltasync/syncd/internal/fsync"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The sync probe measures what one durable write costs on the disk under
// the data directory: append 4 KiB to a growing file and fdatasync it,
// probeWrites times. It is the floor under a durable acknowledgement, and
// writers prints it before and after each run of a disk-backed store so
// that latencies can be read as multiples of it (and a busy disk told
// apart from a slow server).
const (
	probeWrites = 400
	probeBytes  = 4 << 10
)

// syncProbe is the p50 and p99 of one append-and-fdatasync, in µs.
type syncProbe struct {
	P50us float64 `json:"p50us"`
	P99us float64 `json:"p99us"`
}

// probeSync runs the probe in dir, on a file it removes afterwards.
func probeSync(dir string) (syncProbe, error) {
	f, err := os.CreateTemp(dir, ".syncbench-probe-*")
	if err != nil {
		return syncProbe{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, probeBytes)
	for i := range buf {
		buf[i] = byte(i)
	}
	took := make([]float64, 0, probeWrites)
	for range probeWrites {
		start := time.Now()
		if _, err := f.Write(buf); err != nil {
			return syncProbe{}, err
		}
		if err := fsync.Data(f); err != nil {
			return syncProbe{}, err
		}
		took = append(took, float64(time.Since(start).Microseconds()))
	}
	slices.Sort(took)
	return syncProbe{P50us: took[len(took)/2], P99us: took[len(took)*99/100]}, nil
}

// probeDir is where the probe runs for a server: its data directory, or
// the directory syncbench would make one in.
func probeDir(srv *serverProc) string {
	if srv != nil && srv.dataDir != "" {
		return srv.dataDir
	}
	return filepath.Clean(os.TempDir())
}
