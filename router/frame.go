package router

import (
	"encoding/binary"
	"sync"
	"unicode/utf8"

	"github.com/deltasync/syncd/protocol"
)

// Frame is one encoded message, ready to be queued on any number of
// connections. A broadcast is encoded once into a Frame and the same bytes
// are written to every subscriber: queuing a Frame costs a connection a
// pointer, not a copy or an encoding. A Frame is immutable and safe to
// share between goroutines.
type Frame struct {
	data []byte
	op   byte // WebSocket opcode
	// droppable: best-effort; queued only within the connection's
	// DroppableQueueBytes (see enqueue).
	droppable bool
}

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// NewFrame encodes a message with meta.timestamp set to now. See
// [protocol.AppendMessage] for how payload is encoded.
func NewFrame(typ string, payload any) (*Frame, error) {
	return NewFrameMeta(typ, protocol.Meta{Timestamp: protocol.Now()}, payload)
}

// NewFrameMeta encodes a message with the given meta.
func NewFrameMeta(typ string, meta protocol.Meta, payload any) (*Frame, error) {
	bp := encodePool.Get().(*[]byte)
	scratch := (*bp)[:0]
	b, err := protocol.AppendMessage(scratch, typ, meta, payload)
	f := &Frame{op: opText}
	switch {
	case err != nil:
		*bp = b[:0]
	case cap(b) > maxPooledBuffer:
		// A large message (a snapshot) outgrew the scratch buffer into
		// memory of its own, which the pool would not keep: the frame
		// takes it as it is rather than copying it once more, and the
		// scratch buffer goes back.
		f.data = b
		*bp = scratch
	default:
		// An exact-size copy: a queued frame pins no spare capacity, and the
		// scratch buffer goes back to the pool.
		f.data = append([]byte(nil), b...)
		*bp = b[:0]
	}
	if cap(*bp) <= maxPooledBuffer {
		encodePool.Put(bp)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// NewDroppableFrame encodes a best-effort message, as NewFrame does: a
// connection whose queue holds more than Options.DroppableQueueBytes drops
// it (the send fails with ErrDropped) instead of overflowing and closing.
// For traffic whose loss a client tolerates, such as room messages.
func NewDroppableFrame(typ string, payload any) (*Frame, error) {
	f, err := NewFrame(typ, payload)
	if f != nil {
		f.droppable = true
	}
	return f, err
}

// Droppable reports whether the frame is best-effort (NewDroppableFrame).
func (f *Frame) Droppable() bool { return f.droppable }

// RawFrame wraps an already encoded message. The caller promises data is
// one JSON envelope in UTF-8 and will not modify it.
func RawFrame(data []byte) *Frame { return &Frame{data: data, op: opText} }

// RawDroppableFrame wraps an already encoded best-effort message, as
// RawFrame does, droppable as NewDroppableFrame's are: for a room message
// that another server encoded and a cluster bus carried here.
func RawDroppableFrame(data []byte) *Frame {
	return &Frame{data: data, op: opText, droppable: true}
}

// Bytes returns the encoded message. Do not modify it.
func (f *Frame) Bytes() []byte { return f.data }

// Size is what the frame counts against a connection's queue bound: the
// message and its WebSocket header.
func (f *Frame) Size() int { return len(f.data) + frameHeaderSize(len(f.data)) }

const maxPooledBuffer = 64 << 10

var encodePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// pingFrame is shared by every heartbeat ping: it has no payload.
var pingFrame = &Frame{op: opPing}

func pongFrame(appData string) *Frame { return &Frame{op: opPong, data: []byte(appData)} }

// closeFrame builds a close frame. The reason is cut (at a rune boundary)
// to fit the 125-byte control-frame limit.
func closeFrame(code int, reason string) *Frame {
	const maxReason = 123
	if len(reason) > maxReason {
		cut := maxReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	data := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(data, uint16(code))
	return &Frame{op: opClose, data: append(data, reason...)}
}

// frameHeaderSize is the size of a server frame's header (servers do not
// mask) for a payload of n bytes.
func frameHeaderSize(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xFFFF:
		return 4
	}
	return 10
}

// appendFrameHeader appends the header of a final (unfragmented) server
// frame.
func appendFrameHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		return append(dst, byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(dst, 126), uint16(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
}
