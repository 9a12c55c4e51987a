//go:build linux

package uring

import "unsafe"

// The kernel's io_uring interface (include/uapi/linux/io_uring.h), as far
// as this package uses it. The layouts are the same on every architecture.

// System call numbers: io_uring came after Linux gave every architecture
// the same numbers for new calls.
const (
	sysSetup    = 425
	sysEnter    = 426
	sysRegister = 427
)

// Offsets to mmap the rings and the submission entries at.
const (
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000
)

const (
	opFsync = 3  // IORING_OP_FSYNC
	opWrite = 23 // IORING_OP_WRITE (Linux 5.6)

	fsyncDataSync = 1      // IORING_FSYNC_DATASYNC: fdatasync, not fsync
	sqeIOLink     = 1 << 2 // IOSQE_IO_LINK: the next entry starts when this one succeeds

	featSingleMmap = 1 // IORING_FEAT_SINGLE_MMAP: the SQ and CQ rings share one map

	registerEventFDAsync = 7 // IORING_REGISTER_EVENTFD_ASYNC: signal only completions made outside io_uring_enter
	registerProbe        = 8 // IORING_REGISTER_PROBE (Linux 5.6)

	probeOpSupported = 1 // IO_URING_OP_SUPPORTED
)

// params is struct io_uring_params.
type params struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFD         uint32
	resv         [3]uint32
	sqOff        sqOffsets
	cqOff        cqOffsets
}

// sqOffsets is struct io_sqring_offsets: where the SQ ring's fields are
// in its map.
type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqOffsets is struct io_cqring_offsets.
type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// sqe is struct io_uring_sqe, with the union members this package uses.
type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32 // fsync_flags for IORING_OP_FSYNC, rw_flags for writes
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	pad         uint64
}

// cqe is struct io_uring_cqe.
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// probe is struct io_uring_probe with room for every opcode.
type probe struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
	ops    [256]probeOp
}

// probeOp is struct io_uring_probe_op.
type probeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

// Sizes the kernel expects; the arrays below fail to compile if a
// struct above is off by a byte.
const (
	paramsSize = 120
	sqeSize    = 64
	cqeSize    = 16
)

var (
	_ [paramsSize - unsafe.Sizeof(params{})]byte
	_ [unsafe.Sizeof(params{}) - paramsSize]byte
	_ [sqeSize - unsafe.Sizeof(sqe{})]byte
	_ [unsafe.Sizeof(sqe{}) - sqeSize]byte
	_ [cqeSize - unsafe.Sizeof(cqe{})]byte
	_ [unsafe.Sizeof(cqe{}) - cqeSize]byte
)
