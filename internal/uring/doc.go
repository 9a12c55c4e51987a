// Package uring is the smallest io_uring that syncd's write-ahead log
// needs: one ring per file, one request at a time, a write linked to an
// fdatasync, and the completion learned through the Go network poller.
//
// Why: a goroutine in a blocking fdatasync keeps its P (the runtime's
// right to run Go code) until the runtime's monitor takes it back, 20 µs
// to a few hundred µs later. With one P (one CPU, or a one-CPU container
// limit) nothing else in the process runs meanwhile, and the syncing
// goroutine then waits to get a P back. Here the goroutine submits the
// write and the sync with one short io_uring_enter that does not wait,
// and then reads an eventfd registered with the ring
// (IORING_REGISTER_EVENTFD_ASYNC: signalled by completions made outside
// io_uring_enter). The eventfd is non-blocking and is read through an
// *os.File, so the read parks the goroutine in the network poller, not its
// thread: the P runs other goroutines during the sync, and the kernel's
// io-wq worker (a thread of the process that the kernel runs) does the
// sync. The price is that hop: a sync through the ring took ~30–40 µs
// longer than pwrite + fdatasync on this project's test machine, measured
// alone (BenchmarkWriteAndSync).
//
// Why by hand: the Go io_uring libraries are either unmaintained or ports
// of all of liburing, and they wait for completions inside io_uring_enter
// (a blocking system call: the very thing to avoid). What is needed here
// is setup, three memory maps, two opcodes and an eventfd: about 300
// lines on the standard library.
//
// Vocabulary: the submission queue (SQ) is a ring of indexes into an
// array of submission entries (SQEs) that the process fills and the
// kernel consumes; the completion queue (CQ) is a ring of completion
// entries (CQEs) that the kernel fills and the process consumes. Each
// side publishes its progress by storing a head or tail index; the loads
// and stores of those indexes use sync/atomic, which orders them with the
// entries' contents as the kernel's acquire/release protocol requires.
//
// Traps:
//
//   - [Open] fails where io_uring is not allowed or not there: kernels
//     before 5.6 (no IORING_OP_WRITE), kernel.io_uring_disabled, seccomp
//     filters (Docker's default profile forbids io_uring), RLIMIT_MEMLOCK
//     on kernels before 5.12. Callers fall back to [os.File.WriteAt] and
//     fdatasync; the error says why.
//   - A request is never abandoned: [Ring.WriteAndSync] waits for its
//     completions even if the caller has lost interest, because the kernel
//     reads the caller's buffer until then.
//   - Linux only; elsewhere Open returns an error wrapping
//     [errors.ErrUnsupported].
package uring
