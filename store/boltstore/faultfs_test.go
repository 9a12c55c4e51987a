package boltstore

import (
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
)

// faultFS is an in-memory file layer for the log that behaves like a disk
// losing power: crash forgets every write not yet synced, except that the
// last one may have reached the disk in part (a torn record), and makes
// every handle opened before it fail. A SIGKILL keeps the page cache, so a
// missing sync passes a real kill test; it does not pass this one.
type faultFS struct {
	mu    sync.Mutex
	rng   *rand.Rand
	gen   int
	files map[string]*faultImage

	// crashAtWrite, when positive, crashes the layer inside the write
	// that brings writes to it: the write is torn and fails.
	crashAtWrite int
	writes       int
	crashes      int
}

type faultImage struct {
	data     []byte       // what the process sees: the page cache
	durable  []byte       // what a crash keeps
	unsynced []faultWrite // writes since the last sync, oldest first
}

type faultWrite struct {
	off int64
	p   []byte
}

var errCrashed = errors.New("faultfs: the disk lost power")

func newFaultFS(seed uint64) *faultFS {
	return &faultFS{rng: rand.New(rand.NewPCG(seed, 1)), files: make(map[string]*faultImage)}
}

func (fs *faultFS) OpenFile(name string, _ int64) (walFile, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.files[name] == nil {
		fs.files[name] = &faultImage{}
	}
	return &faultFile{fs: fs, name: name, gen: fs.gen}, nil
}

// crash loses power: see faultFS.
func (fs *faultFS) crash() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.crashLocked()
}

func (fs *faultFS) crashLocked() {
	fs.gen++
	fs.crashes++
	fs.crashAtWrite = 0
	for _, img := range fs.files {
		kept := slices.Clone(img.durable)
		if n := len(img.unsynced); n > 0 {
			last := img.unsynced[n-1]
			torn := last.p[:fs.rng.IntN(len(last.p))]
			kept = writeAt(kept, last.off, torn)
		}
		img.data, img.durable, img.unsynced = kept, slices.Clone(kept), nil
	}
}

// writeAt writes p into b at off, growing b with zeros as needed.
func writeAt(b []byte, off int64, p []byte) []byte {
	if end := int(off) + len(p); end > len(b) {
		b = append(b, make([]byte, end-len(b))...)
	}
	copy(b[off:], p)
	return b
}

type faultFile struct {
	fs   *faultFS
	name string
	gen  int
}

func (f *faultFile) image() (*faultImage, error) {
	if f.gen != f.fs.gen {
		return nil, errCrashed
	}
	return f.fs.files[f.name], nil
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	img, err := f.image()
	if err != nil {
		return 0, err
	}
	if off >= int64(len(img.data)) {
		return 0, io.EOF
	}
	n := copy(p, img.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	img, err := f.image()
	if err != nil {
		return 0, err
	}
	img.data = writeAt(img.data, off, p)
	img.unsynced = append(img.unsynced, faultWrite{off: off, p: slices.Clone(p)})
	f.fs.writes++
	if f.fs.crashAtWrite > 0 && f.fs.writes >= f.fs.crashAtWrite {
		f.fs.crashLocked()
		return 0, errCrashed
	}
	return len(p), nil
}

func (f *faultFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	img, err := f.image()
	if err != nil {
		return err
	}
	img.durable, img.unsynced = slices.Clone(img.data), nil
	return nil
}

func (f *faultFile) Close() error { return nil }
