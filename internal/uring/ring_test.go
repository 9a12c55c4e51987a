package uring_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/deltasync/syncd/internal/uring"
)

// openRing opens a ring, or skips the test where io_uring is not allowed
// (the callers' fallback is tested where they use the ring).
func openRing(t *testing.T) *uring.Ring {
	t.Helper()
	r, err := uring.Open()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("io_uring is not available here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

func tempFile(t *testing.T, flag int) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "f"), flag|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestWriteAndSyncWritesAtOffsets(t *testing.T) {
	r := openRing(t)
	f := tempFile(t, os.O_RDWR)
	want := make([]byte, 0, 64<<10)
	for i := 0; i < 16; i++ {
		rec := bytes.Repeat([]byte{byte('a' + i)}, 1000+i*300)
		if err := r.WriteAndSync(f, rec, int64(len(want))); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		want = append(want, rec...)
	}
	// Overwrite in the middle, as the log does when it reuses a segment.
	patch := []byte("overwritten")
	if err := r.WriteAndSync(f, patch, 5000); err != nil {
		t.Fatal(err)
	}
	copy(want[5000:], patch)
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("file holds %d bytes, not the %d written", len(got), len(want))
	}
}

func TestWriteAndSyncLargeBuffer(t *testing.T) {
	r := openRing(t)
	f := tempFile(t, os.O_RDWR)
	big := make([]byte, 3<<20+17)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := r.WriteAndSync(f, big, 4096); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(big))
	if _, err := f.ReadAt(got, 4096); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("read back differs")
	}
}

func TestEmptyWriteOnlySyncs(t *testing.T) {
	r := openRing(t)
	f := tempFile(t, os.O_RDWR)
	if err := r.WriteAndSync(f, nil, 0); err != nil {
		t.Fatal(err)
	}
}

// A failed write is reported with the system's error, the sync linked to
// it does not run, and the ring stays usable.
func TestWriteErrorIsReportedAndRingGoesOn(t *testing.T) {
	r := openRing(t)
	ro := tempFile(t, os.O_RDONLY)
	err := r.WriteAndSync(ro, []byte("x"), 0)
	if !errors.Is(err, syscall.EBADF) {
		t.Fatalf("write to a read-only file: got %v, want EBADF", err)
	}
	f := tempFile(t, os.O_RDWR)
	if err := r.WriteAndSync(f, []byte("after"), 0); err != nil {
		t.Fatalf("the ring after a failed request: %v", err)
	}
}

// Concurrent callers queue: each request is whole and in its place.
func TestConcurrentCallersQueue(t *testing.T) {
	r := openRing(t)
	f := tempFile(t, os.O_RDWR)
	const writers, each, size = 4, 25, 512
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				slot := w*each + i
				rec := bytes.Repeat([]byte{byte(slot)}, size)
				if err := r.WriteAndSync(f, rec, int64(slot*size)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*each*size {
		t.Fatalf("file has %d bytes, want %d", len(got), writers*each*size)
	}
	for slot := 0; slot < writers*each; slot++ {
		if !bytes.Equal(got[slot*size:(slot+1)*size], bytes.Repeat([]byte{byte(slot)}, size)) {
			t.Fatalf("slot %d is not what was written", slot)
		}
	}
}

func TestClosedRingRefuses(t *testing.T) {
	r, err := uring.Open()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("io_uring is not available here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	f := tempFile(t, os.O_RDWR)
	if err := r.WriteAndSync(f, []byte("x"), 0); err == nil {
		t.Fatal("a closed ring wrote")
	}
}
