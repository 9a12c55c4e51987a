// Package protocol is syncd's wire protocol, version "syncd/1": the
// envelope, every message of the sync service as a Go type, the error codes
// with their retry metadata, the close codes with what a client should do
// after each, and strict, fast encoding and decoding. It uses the standard
// library only (and syncd's revision and internal/jsonkit packages), and
// contains no server code, so the router, the server and the client SDK
// all build on it.
//
// # Vocabulary
//
// A message is one JSON object in one WebSocket text frame, in ws-kit's
// envelope:
//
//	{"type": "UPDATE", "meta": {"timestamp": 1730450000123, "correlationId": "r-42"}, "payload": {...}}
//
// [Envelope] is that object with the payload left as raw bytes; [Meta] holds
// the only meta keys there are (timestamp, correlationId, and ts for
// __heartbeat_ack). A request that carries a correlationId is an RPC: its
// reply carries the same id. The payload types are named after their
// messages: [Join], [Update], [Leave], [PresenceSet], [Publish],
// [Subscribe], [Unsubscribe], [Heartbeat], [AuthRefresh] from clients; [Hello],
// [SyncSnapshot], [SyncDeltas], [RevisionGap], [Presence], [Message],
// [AuthRefreshOK], [ErrorPayload] from the server. The Type* constants are
// the type names.
//
// Errors travel as [ErrorPayload] in an ERROR (or, answering an RPC,
// RPC_ERROR) message; in Go they are [*Error], whose [Code] is one of the
// 13 standard codes (see [Codes] for retry metadata) or an application's
// own. [CodeOf] and [AsError] turn any error into a wire code. Close codes
// (the status of a WebSocket close frame) are the Close* constants; the
// table [CloseCodes] says for each whether a client should reconnect and
// resume or stop, and [ShouldReconnect] answers it for one code.
//
// # Decoding and encoding
//
// Decoding is two steps, so that a router reads each message once:
// [DecodeEnvelope] checks the syntax of the whole message and the envelope's
// fields, leaving the payload as raw bytes; then the handler for the type
// decodes the payload with [DecodePayload] (or the type's UnmarshalPayload).
// Both are hand-written over a small validating scanner (jsonkit.Scanner,
// shared with package delta's decoder; no reflection, no second pass) and
// strict: an unknown field, a field of the wrong type, a
// duplicate field, or a required field that is missing or null is an
// [*Error] with code INVALID_ARGUMENT whose message names the field, such as
// "payload.baseRev: want number, got string". An optional field sent as null
// counts as absent. Server-to-client payloads are decoded leniently about
// unknown fields (clients must ignore what a newer server adds) and
// strictly about everything else. Validate methods check what decoding
// cannot: document ids ([ValidDocID]), request ids, epochs, reserved types
// ([IsReservedType]).
//
// Encoding ([AppendMessage], [AppendEnvelope], and each type's AppendJSON)
// escapes strings as encoding/json does (jsonkit.AppendString, as delta
// does: \b and \f short, HTML left alone), writes no null for an absent
// optional field, never null for a list (an empty list is []), and no meta
// key beyond those above: ws-kit's client schemas are strict and reject
// both.
//
// # Traps
//
//   - Decoded json.RawMessage fields (patch, state, presence, data, an
//     operation's payload, the envelope's payload) alias the input bytes.
//     Do not reuse the input buffer while a decoded value is in use.
//   - Encoding copies json.RawMessage fields verbatim: they must hold valid
//     JSON. An empty required free-JSON field is written as {} (state) or
//     null (data, patch, payload), so that the output stays valid JSON.
//   - Keys match exactly, with case, unlike encoding/json; and a field sent
//     twice is an error rather than "last one wins".
//   - Invalid UTF-8 in a string is a decoding error, so that decode, encode,
//     decode always gives back the same value.
//   - Revisions are JSON numbers up to 2^64-1; JavaScript clients lose
//     precision above 2^53, which no real document reaches.
package protocol
