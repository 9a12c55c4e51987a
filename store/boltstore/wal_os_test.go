package boltstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/internal/uring"
	"github.com/deltasync/syncd/revision"
)

// The log on real files through each way it can be made durable: io_uring
// (the default where the system allows it), the plain system calls when
// NoIOURing turns it off, and the plain calls when the ring cannot be set
// up (a container whose seccomp profile forbids io_uring: the fallback).
// Each commits enough to move between the two segments, "crashes" without
// applying, and finds every batch again through the log at the next Open.
func TestLogSyncPaths(t *testing.T) {
	noRing := func() (*uring.Ring, error) {
		return nil, fmt.Errorf("uring: io_uring_setup: %w (%w)", syscall.EPERM, errors.ErrUnsupported)
	}
	cases := []struct {
		name string
		opts Options
		fs   walFS // nil: Open's own
		want string
	}{
		{name: "io_uring", want: LogSyncIOURing},
		{name: "turned off", opts: Options{NoIOURing: true}, want: LogSyncPlain + " (turned off"},
		{name: "unavailable", fs: osFS{openRing: noRing}, want: LogSyncPlain + " (uring: io_uring_setup: operation not permitted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == LogSyncIOURing {
				r, err := uring.Open()
				if err != nil {
					t.Skipf("io_uring is not available here: %v", err)
				}
				r.Close()
			}
			path := filepath.Join(t.TempDir(), "syncd.db")
			opts := tc.opts
			opts.LogSegmentBytes = 4 << 10
			opts.ApplyInterval = 1 << 40 // only a full segment makes the applier run
			open := func() *Store {
				t.Helper()
				var s *Store
				var err error
				if tc.fs != nil {
					s, err = openWith(path, opts, tc.fs)
				} else {
					s, err = Open(path, opts)
				}
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			s := open()
			if got := s.LogSync(); !strings.HasPrefix(got, tc.want) {
				t.Fatalf("LogSync() = %q, want it to start with %q", got, tc.want)
			}
			ctx := context.Background()
			const ops = 150 // ~60 bytes a record: past two segments of 4 KiB
			if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "doc", Epoch: "e"}}}); err != nil {
				t.Fatal(err)
			}
			for r := 1; r <= ops; r++ {
				if err := s.Commit(ctx, []syncd.Record{{Append: &syncd.AppendRecord{Doc: "doc", Epoch: "e", Op: mergeOp(revision.Rev(r))}}}); err != nil {
					t.Fatal(err)
				}
			}
			s.crashForTest()
			s = open()
			defer s.Close()
			if s.replayed == 0 {
				t.Error("nothing was replayed from the log")
			}
			sd, err := s.Load(ctx, "doc")
			if err != nil {
				t.Fatal(err)
			}
			if sd.Meta.Head != ops {
				t.Fatalf("after a crash and reopen the document's head is %d, want %d", sd.Meta.Head, ops)
			}
		})
	}
}

func TestLogSyncNoSync(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "syncd.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.LogSync(); got != LogSyncNone {
		t.Fatalf("LogSync() = %q, want %q", got, LogSyncNone)
	}
}
