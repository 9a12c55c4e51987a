package uring_test

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/deltasync/syncd/internal/uring"
)

// BenchmarkWriteAndSync compares a 4 KiB overwrite made durable through the
// ring with the same through pwrite and fdatasync, on a file written ahead
// (as the log's segments are). It reports the p50 of one request, in µs.
func BenchmarkWriteAndSync(b *testing.B) {
	rec := make([]byte, 4096)
	setup := func(b *testing.B) *os.File {
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "seg"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		if _, err := f.WriteAt(make([]byte, 4<<20), 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		return f
	}
	run := func(b *testing.B, write func(f *os.File, off int64) error) {
		f := setup(b)
		var took []time.Duration
		off := int64(0)
		for b.Loop() {
			start := time.Now()
			if err := write(f, off); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
			off = (off + int64(len(rec))) % (4 << 20)
		}
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	}
	b.Run("ring", func(b *testing.B) {
		r, err := uring.Open()
		if err != nil {
			b.Skip(err)
		}
		defer r.Close()
		run(b, func(f *os.File, off int64) error { return r.WriteAndSync(f, rec, off) })
	})
	b.Run("plain", func(b *testing.B) {
		run(b, func(f *os.File, off int64) error {
			if _, err := f.WriteAt(rec, off); err != nil {
				return err
			}
			return syscall.Fdatasync(int(f.Fd()))
		})
	})
}
