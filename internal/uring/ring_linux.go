//go:build linux

package uring

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// ringEntries is the size of the submission queue: a request is two
// entries (the write and the sync), and only one request is in flight.
const ringEntries = 4

// Completion tags (user_data) of a request's two entries.
const (
	tagWrite = 1
	tagSync  = 2
)

// Ring is an io_uring that writes to a file and fdatasyncs it, one request
// at a time: concurrent calls queue on its mutex. The zero value is not
// usable; see [Open].
type Ring struct {
	mu     sync.Mutex
	fd     int
	maps   [][]byte // the SQ ring, the CQ ring (unless it shares the SQ's map), the SQEs
	event  *os.File // the eventfd the kernel signals on each completion
	closed bool
	// broken is the error that left the ring in an unknown state (a
	// submission the kernel did not take, an eventfd that failed); every
	// later request returns it.
	broken error

	sqHead, sqTail *uint32
	sqMask         uint32
	sqArray        []uint32
	sqes           []sqe
	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []cqe

	// inFlight is the buffer the kernel reads during a request. Storing
	// the caller's slice in the (heap-allocated) Ring makes it escape to
	// the heap, where the garbage collector never moves it (a stack may
	// move when it grows), and keeps it alive until the kernel is done.
	inFlight []byte
}

// Open sets up a ring. It fails, with an error saying why, where io_uring
// is unavailable or lacks the operations needed (errors.Is(err,
// errors.ErrUnsupported) then holds); the caller then uses ordinary system
// calls.
func Open() (*Ring, error) {
	var p params
	fd, _, errno := syscall.Syscall(sysSetup, ringEntries, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, setupError("io_uring_setup", errno)
	}
	r := &Ring{fd: int(fd)}
	if err := r.init(&p); err != nil {
		_ = r.release()
		return nil, err
	}
	return r, nil
}

// setupError says that io_uring cannot be used, and why.
func setupError(call string, errno syscall.Errno) error {
	switch errno {
	case syscall.ENOSYS, syscall.EPERM, syscall.EACCES, syscall.EINVAL:
		// No io_uring in this kernel, or forbidden (seccomp,
		// kernel.io_uring_disabled), or too old for what is asked.
		return fmt.Errorf("uring: %s: %w (%w)", call, errno, errors.ErrUnsupported)
	}
	return fmt.Errorf("uring: %s: %w", call, errno)
}

func (r *Ring) init(p *params) error {
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*cqeSize)
	if p.features&featSingleMmap != 0 {
		sqSize = max(sqSize, cqSize)
	}
	sq, err := r.mmap(offSQRing, sqSize)
	if err != nil {
		return err
	}
	cq := sq
	if p.features&featSingleMmap == 0 {
		if cq, err = r.mmap(offCQRing, cqSize); err != nil {
			return err
		}
	}
	sqeMem, err := r.mmap(offSQEs, int(p.sqEntries)*sqeSize)
	if err != nil {
		return err
	}
	r.sqHead = (*uint32)(unsafe.Pointer(&sq[p.sqOff.head]))
	r.sqTail = (*uint32)(unsafe.Pointer(&sq[p.sqOff.tail]))
	r.sqMask = *(*uint32)(unsafe.Pointer(&sq[p.sqOff.ringMask]))
	r.sqArray = unsafe.Slice((*uint32)(unsafe.Pointer(&sq[p.sqOff.array])), p.sqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&sqeMem[0])), p.sqEntries)
	r.cqHead = (*uint32)(unsafe.Pointer(&cq[p.cqOff.head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&cq[p.cqOff.tail]))
	r.cqMask = *(*uint32)(unsafe.Pointer(&cq[p.cqOff.ringMask]))
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)

	if err := r.probe(); err != nil {
		return err
	}
	return r.registerEvent()
}

func (r *Ring) mmap(off int64, size int) ([]byte, error) {
	b, err := syscall.Mmap(r.fd, off, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("uring: mmap: %w", err)
	}
	r.maps = append(r.maps, b)
	return b, nil
}

// probe checks that the kernel has the two operations a request uses.
func (r *Ring) probe() error {
	var pr probe
	_, _, errno := syscall.Syscall6(sysRegister, uintptr(r.fd), registerProbe, uintptr(unsafe.Pointer(&pr)), uintptr(len(pr.ops)), 0, 0)
	if errno != 0 {
		return setupError("io_uring_register(PROBE)", errno)
	}
	for _, op := range []uint8{opWrite, opFsync} {
		if op > pr.lastOp || pr.ops[op].flags&probeOpSupported == 0 {
			return fmt.Errorf("uring: the kernel's io_uring lacks operation %d (%w)", op, errors.ErrUnsupported)
		}
	}
	return nil
}

// registerEvent makes the kernel signal an eventfd on every completion,
// and opens it as an *os.File: the eventfd is non-blocking, so os.NewFile
// puts it in the network poller and a Read parks the goroutine, not the
// thread.
func (r *Ring) registerEvent() error {
	const efdCloexec, efdNonblock = syscall.O_CLOEXEC, syscall.O_NONBLOCK
	efd, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, efdCloexec|efdNonblock, 0)
	if errno != 0 {
		return fmt.Errorf("uring: eventfd2: %w", errno)
	}
	r.event = os.NewFile(efd, "io_uring eventfd")
	fd := int32(efd)
	// Only completions made outside io_uring_enter signal it: a write
	// done within the call (a copy to the page cache) is reaped when the
	// call returns, and its signal would only wake the wait for the sync
	// once for nothing (the poller's edge outlives the counter's reset).
	_, _, errno = syscall.Syscall6(sysRegister, uintptr(r.fd), registerEventFDAsync, uintptr(unsafe.Pointer(&fd)), 1, 0, 0)
	if errno != 0 {
		return setupError("io_uring_register(EVENTFD_ASYNC)", errno)
	}
	return nil
}

var errClosed = errors.New("uring: ring is closed")

// WriteAndSync writes p to f at off and then fdatasyncs f, and returns once
// both are done: when it returns nil, p is durable. The write and the sync
// are one submission (the sync linked after the write); the calling
// goroutine waits for them in the network poller, so the thread and the P
// run other goroutines meanwhile. f must stay open until it returns. A
// short write is finished by another request. It returns the first error
// of the write or of the sync; after an error, what of p reached the disk
// is unknown.
func (r *Ring) WriteAndSync(f *os.File, p []byte, off int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return errClosed
	case r.broken != nil:
		return r.broken
	}
	// Fd of a regular file leaves it as it is (only a pollable file is
	// switched to blocking mode).
	fd := int32(f.Fd())
	defer runtime.KeepAlive(f)
	for {
		n, err := r.request(fd, p, off)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, errShortWrite):
			return err
		case n == 0:
			return fmt.Errorf("uring: write: %w", io.ErrShortWrite)
		}
		p, off = p[n:], off+int64(n)
	}
}

// maxWrite bounds one write's length (a write's length is 32 bits; Linux
// writes at most about 2 GiB at once anyway); a longer p takes more
// requests.
const maxWrite = 1 << 30

// errShortWrite reports a write that wrote less than asked; the sync
// linked to it was cancelled, and the caller writes the rest.
var errShortWrite = errors.New("short write")

// request submits one write of p (none when p is empty) linked to an
// fdatasync, and waits for both completions. It returns how many bytes
// the write wrote.
func (r *Ring) request(fd int32, p []byte, off int64) (int, error) {
	tail := atomic.LoadUint32(r.sqTail)
	n := uint32(1)
	if len(p) > 0 {
		n = 2
		r.inFlight = p
		r.put(tail, sqe{opcode: opWrite, flags: sqeIOLink, fd: fd, off: uint64(off),
			addr: uint64(uintptr(unsafe.Pointer(&p[0]))), len: uint32(min(len(p), maxWrite)), userData: tagWrite})
	}
	r.put(tail+n-1, sqe{opcode: opFsync, fd: fd, opFlags: fsyncDataSync, userData: tagSync})
	// The release store that hands the entries to the kernel.
	atomic.StoreUint32(r.sqTail, tail+n)
	if err := r.submit(n); err != nil {
		r.broken = err
		return 0, err
	}
	// Until every completion is in, the kernel may still read p: a
	// request that breaks the ring keeps r.inFlight set.
	wrote, writeErr, syncErr := 0, error(nil), error(nil)
	for left := n; left > 0; {
		c, ok := r.reap()
		if !ok {
			if err := r.awaitCompletion(); err != nil {
				r.broken = err
				return 0, err
			}
			continue
		}
		left--
		if left == 0 {
			r.inFlight = nil
		}
		switch {
		case c.userData == tagWrite && c.res < 0:
			writeErr = fmt.Errorf("uring: write: %w", syscall.Errno(-c.res))
		case c.userData == tagWrite:
			wrote = int(c.res)
		case c.userData == tagSync && c.res < 0:
			syncErr = fmt.Errorf("uring: fdatasync: %w", syscall.Errno(-c.res))
		}
	}
	switch {
	case writeErr != nil:
		return 0, writeErr
	case wrote < len(p):
		return wrote, errShortWrite
	case syncErr != nil:
		return wrote, syncErr
	}
	return wrote, nil
}

// put fills the submission entry for position pos of the SQ ring.
func (r *Ring) put(pos uint32, e sqe) {
	i := pos & r.sqMask
	r.sqes[i] = e
	r.sqArray[i] = i
}

// submit tells the kernel about n new entries without waiting for them.
// A buffered write may be done within the call (a copy to the page
// cache); the sync goes to the kernel's io-wq worker.
func (r *Ring) submit(n uint32) error {
	for n > 0 {
		got, _, errno := syscall.Syscall6(sysEnter, uintptr(r.fd), uintptr(n), 0, 0, 0, 0)
		switch errno {
		case 0:
			n -= uint32(got)
		case syscall.EINTR:
		case syscall.EAGAIN, syscall.EBUSY:
			// The kernel is short of memory for requests, or its
			// completions overflowed: let others run and try again.
			runtime.Gosched()
		default:
			return fmt.Errorf("uring: io_uring_enter: %w", errno)
		}
	}
	return nil
}

// reap takes one completion off the CQ ring, if there is one.
func (r *Ring) reap() (cqe, bool) {
	head := atomic.LoadUint32(r.cqHead)
	// The acquire load that makes the kernel's entry visible.
	if head == atomic.LoadUint32(r.cqTail) {
		return cqe{}, false
	}
	c := r.cqes[head&r.cqMask]
	atomic.StoreUint32(r.cqHead, head+1)
	return c, true
}

// awaitCompletion parks the goroutine until the kernel has signalled the
// eventfd since it was last read, or for at most missedSignalBound.
// Completions are checked before each call, and the eventfd counts every
// completion made outside io_uring_enter (the kernel's workers: the
// sync's), so none is missed: one that lands between the check and the
// read leaves the counter non-zero and the read returns at once. The bound
// is a guard for a completion that a kernel might make in this thread's
// own context after io_uring_enter returned, which would not signal: the
// caller then finds it within the bound instead of never.
func (r *Ring) awaitCompletion() error {
	if err := r.event.SetReadDeadline(time.Now().Add(missedSignalBound)); err != nil {
		return fmt.Errorf("uring: eventfd deadline: %w", err)
	}
	var b [8]byte
	if _, err := r.event.Read(b[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("uring: read eventfd: %w", err)
	}
	return nil
}

// missedSignalBound is how long a wait for a completion lasts without a
// signal before the completion queue is looked at again.
const missedSignalBound = 20 * time.Millisecond

// Close releases the ring, after the request in flight, if any.
func (r *Ring) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	return r.release()
}

func (r *Ring) release() error {
	var errs []error
	if r.event != nil {
		errs = append(errs, r.event.Close())
	}
	for _, m := range r.maps {
		errs = append(errs, syscall.Munmap(m))
	}
	r.maps = nil
	errs = append(errs, syscall.Close(r.fd))
	return errors.Join(errs...)
}
