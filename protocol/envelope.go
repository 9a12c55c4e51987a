package protocol

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/deltasync/syncd/internal/jsonkit"
)

// Envelope is one message on the wire: {"type", "meta"?, "payload"?}.
//
// Decoding keeps the payload as raw bytes (a sub-slice of the input, not a
// copy): a router reads the envelope once to choose a handler, and only
// that handler decodes the payload into its own type.
type Envelope struct {
	Type string
	Meta Meta
	// Payload is the raw payload, nil when absent (or sent as null).
	Payload json.RawMessage
}

// Meta is the envelope's meta object. Only the keys below exist; a zero
// value is absent (and is left out when encoding).
type Meta struct {
	// Timestamp is when the sender produced the message, in Unix
	// milliseconds. ws-kit clients set it on every message; the server
	// sets it on every message except __heartbeat_ack. Informational only:
	// never base a decision on a client's clock.
	Timestamp int64
	// CorrelationID makes a request an RPC: its terminal reply (or
	// RPC_ERROR) and any progress messages carry the same id.
	CorrelationID string
	// TS is the server's time in __heartbeat_ack (Unix milliseconds); no
	// other message has it.
	TS int64
}

// IsZero reports whether m has no keys.
func (m Meta) IsZero() bool { return m == Meta{} }

// Limits of the envelope.
const (
	// MaxCorrelationIDLength bounds meta.correlationId. (ws-kit uses UUIDs,
	// 36 characters.)
	MaxCorrelationIDLength = 128
	// MaxTypeLength bounds the type field.
	MaxTypeLength = 128
)

// DecodeEnvelope decodes one message. It checks the whole input for JSON
// syntax (the payload included, though not its fields) and the envelope's
// own fields strictly: type is a required, non-empty string; meta, when
// present, an object whose timestamp is a non-negative integer and whose
// correlationId a string; payload any JSON value. Unknown top-level keys
// are an error; unknown meta keys are ignored, since a message may declare
// meta keys of its own. Errors are [*Error]s with code INVALID_ARGUMENT
// whose message names the field: "type: required", "meta.timestamp: want
// number, got string", "payload.x: ..." never (payload fields are the
// payload decoder's business).
//
// The returned Payload aliases data.
func DecodeEnvelope(data []byte) (Envelope, error) { return decodeEnvelope(data, false) }

// DecodeServerEnvelope decodes a message from the server as a client must
// (PROTOCOL.md §3.2): as DecodeEnvelope does, except that unknown
// top-level keys are ignored, so that a newer server may add some. The
// payload is checked for syntax too; its fields are the payload decoder's
// business.
func DecodeServerEnvelope(data []byte) (Envelope, error) { return decodeEnvelope(data, true) }

func decodeEnvelope(data []byte, lenient bool) (Envelope, error) {
	var env Envelope
	s := jsonkit.Scanner{Data: data}
	if k := s.Peek(); k != jsonkit.KindObject {
		// Peek classifies by the first byte: "not json" starts like null.
		// A scalar is short, so check that it is one before naming it;
		// arrays, which may nest deeply, are named by their first byte.
		if k != jsonkit.KindArray {
			if _, err := s.SkipValue(); err != nil {
				return env, wireError(err)
			}
		}
		return env, &Error{Code: CodeInvalidArgument, Message: "message: want object, got " + k.String()}
	}
	d := newObjDecoder(data, "", lenient)
	const (
		bType = 1 << iota
		bMeta
		bPayload
	)
	for d.next() {
		switch string(d.key) {
		case "type":
			env.Type = d.str(bType)
		case "meta":
			if d.mark(bMeta) && !d.isNull() {
				decodeMeta(&d, &env.Meta)
			}
		case "payload":
			env.Payload = d.raw(bPayload, false, anyKind)
		default:
			d.unknown()
		}
	}
	if d.err == nil && env.Type == "" {
		if d.seen&bType == 0 {
			d.fail("type", "required")
		} else {
			d.fail("type", "must not be empty")
		}
	}
	if d.err == nil && len(env.Type) > MaxTypeLength {
		d.fail("type", "longer than "+strconv.Itoa(MaxTypeLength)+" bytes")
	}
	if err := d.finishTop(); err != nil {
		return Envelope{}, err
	}
	return env, nil
}

func decodeMeta(parent *objDecoder, m *Meta) {
	d := parent.child("meta", -1, true)
	const (
		bTimestamp = 1 << iota
		bCorrelation
		bTS
	)
	for d.next() {
		switch string(d.key) {
		case "timestamp":
			m.Timestamp, _ = d.int64(bTimestamp, false)
		case "correlationId":
			var present bool
			m.CorrelationID, present = d.strOpt(bCorrelation, false)
			if d.err == nil && present && m.CorrelationID == "" {
				// §3.1: 1–128 bytes. An empty id would make an RPC that
				// no answer can name, so it would get none at all.
				d.fail("meta.correlationId", "must not be empty")
			} else if d.err == nil && len(m.CorrelationID) > MaxCorrelationIDLength {
				d.fail("meta.correlationId", "longer than "+strconv.Itoa(MaxCorrelationIDLength)+" bytes")
			}
		case "ts":
			m.TS, _ = d.int64(bTS, false)
		default:
			d.unknown()
		}
	}
	parent.adopt(&d)
}

// field names of the envelope, with their JSON punctuation.
const (
	keyType          = `{"type":`
	keyMeta          = `,"meta":{`
	keyPayload       = `,"payload":`
	keyTimestamp     = `"timestamp":`
	keyCorrelationID = `"correlationId":`
	keyTS            = `"ts":`
)

// AppendEnvelope appends the encoding of a message whose payload is
// already encoded (nil or empty: no payload key). The caller promises
// payload is valid JSON.
func AppendEnvelope(dst []byte, typ string, meta Meta, payload []byte) []byte {
	dst = append(dst, keyType...)
	dst = jsonkit.AppendString(dst, typ)
	dst = appendMeta(dst, meta)
	if len(payload) > 0 {
		dst = append(dst, keyPayload...)
		dst = append(dst, payload...)
	}
	return append(dst, '}')
}

func appendMeta(dst []byte, m Meta) []byte {
	if m.IsZero() {
		return dst
	}
	dst = append(dst, keyMeta...)
	first := true
	if m.Timestamp != 0 {
		dst = append(dst, keyTimestamp...)
		dst = appendInt(dst, m.Timestamp)
		first = false
	}
	if m.CorrelationID != "" {
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, keyCorrelationID...)
		dst = jsonkit.AppendString(dst, m.CorrelationID)
		first = false
	}
	if m.TS != 0 {
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, keyTS...)
		dst = appendInt(dst, m.TS)
	}
	return append(dst, '}')
}

// AppendMessage appends the encoding of a message. The payload is encoded
// by its AppendJSON method ([Appender]: every payload type of this package
// has one), taken as is if it is a json.RawMessage or []byte (which must
// hold valid JSON), left out if nil, and otherwise encoded with
// encoding/json.
func AppendMessage(dst []byte, typ string, meta Meta, payload any) ([]byte, error) {
	dst = append(dst, keyType...)
	dst = jsonkit.AppendString(dst, typ)
	dst = appendMeta(dst, meta)
	switch p := payload.(type) {
	case nil:
	case Appender:
		dst = append(dst, keyPayload...)
		dst = p.AppendJSON(dst)
	case json.RawMessage:
		if len(p) > 0 {
			dst = append(dst, keyPayload...)
			dst = append(dst, p...)
		}
	case []byte:
		if len(p) > 0 {
			dst = append(dst, keyPayload...)
			dst = append(dst, p...)
		}
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return dst, err
		}
		if string(b) != "null" {
			dst = append(dst, keyPayload...)
			dst = append(dst, b...)
		}
	}
	return append(dst, '}'), nil
}

// Encode returns the encoding of a message; see [AppendMessage].
func Encode(typ string, meta Meta, payload any) ([]byte, error) {
	return AppendMessage(make([]byte, 0, 128), typ, meta, payload)
}

// Now returns the current time in Unix milliseconds, the unit of
// meta.timestamp and of every time field of the protocol.
func Now() int64 { return time.Now().UnixMilli() }
