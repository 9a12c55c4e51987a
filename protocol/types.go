package protocol

import (
	"strings"

	"github.com/deltasync/syncd/revision"
)

// ProtocolVersion is the value of HELLO's protocol field.
const ProtocolVersion = "syncd/1"

// Message types, client to server.
const (
	TypeJoin        = "JOIN"
	TypeUpdate      = "UPDATE"
	TypeLeave       = "LEAVE"
	TypePresenceSet = "PRESENCE.SET"
	TypePublish     = "PUBLISH"
	TypeSubscribe   = "SUBSCRIBE"
	TypeUnsubscribe = "UNSUBSCRIBE"
	TypeHeartbeat   = "HEARTBEAT"
)

// Message types, server to client.
const (
	TypeHello        = "HELLO"
	TypeSyncSnapshot = "SYNC.SNAPSHOT"
	TypeSyncDeltas   = "SYNC.DELTAS"
	TypeRevisionGap  = "REVISION_GAP"
	TypePresence     = "PRESENCE"
	TypeMessage      = "MESSAGE"
	TypeError        = "ERROR"
	TypeRPCError     = "RPC_ERROR"
)

// Control messages of ws-kit, handled by the router itself.
const (
	// TypeHeartbeatPing is ws-kit's client keep-alive, {"type":"__heartbeat"}.
	TypeHeartbeatPing = "__heartbeat"
	// TypeHeartbeatAck answers it: {"type":"__heartbeat_ack","meta":{"ts":<ms>}}.
	TypeHeartbeatAck = "__heartbeat_ack"
	// TypeRPCProgress is ws-kit's non-terminal RPC reply, carrying the
	// request's correlationId.
	TypeRPCProgress = "$ws:rpc-progress"
)

// IsReservedType reports whether a message type is reserved for the
// protocol machinery: types starting with "__" or "$". Applications may not
// define such types, and a client may send only [TypeHeartbeatPing].
func IsReservedType(t string) bool {
	return strings.HasPrefix(t, "__") || strings.HasPrefix(t, "$")
}

// Operation types in SYNC.DELTAS.
const (
	OpPatch = "patch" // payload is a JSON Patch (RFC 6902) array
	OpMerge = "merge" // payload is a JSON Merge Patch (RFC 7396) object
)

// Reasons of REVISION_GAP.
const (
	GapRetention = "retention" // the operations after the client's revision are no longer kept
	GapEpoch     = "epoch"     // the client's epoch is not the document's
	GapSmaller   = "smaller"   // the snapshot is smaller than the deltas
)

// Names of the limits in HELLO's limits object.
const (
	LimitMaxMessageBytes      = "maxMessageBytes"          // inbound message size
	LimitMaxDocumentBytes     = "maxDocumentBytes"         // encoded document size
	LimitMaxDocsPerConnection = "maxDocsPerConnection"     // documents joined at once
	LimitMessagesPerSecond    = "messagesPerSecond"        // inbound rate per connection
	LimitMaxQueueBytes        = "maxQueueBytes"            // outbound queue per connection
	LimitDocsCreatedPerMinute = "docsCreatedPerMinute"     // documents a connection may create
	LimitMaxDocumentDepth     = "maxDocumentDepth"         // nesting of a document
	LimitMaxPatchOps          = "maxPatchOps"              // operations of one JSON Patch
	LimitMaxPatchWorkBytes    = "maxPatchWorkBytes"        // document bytes one edit may walk
	LimitMaxConnections       = "maxConnections"           // connections to the server in all
	LimitMaxConnsPerAddress   = "maxConnectionsPerAddress" // connections from one client address
	LimitRoomQueueBytes       = "roomQueueBytes"           // outbound queue past which room messages are dropped
	LimitMaxPresenceBytes     = "maxPresenceBytes"         // one presence value
	LimitPresenceBytesPerSec  = "presenceBytesPerSecond"   // presence set by one connection
	LimitMaxRoomPresenceBytes = "maxRoomPresenceBytes"     // one room's presence in all
	LimitMaxPublishBytes      = "maxPublishBytes"          // one room or topic message
	LimitMessageTimeoutMs     = "messageTimeoutMs"         // to receive one message whole
	LimitUpdatesPerSecond     = "updatesPerSecond"         // UPDATEs per connection
	LimitHeartbeatTimeoutMs   = "heartbeatTimeoutMs"       // silence before a connection is closed
)

// MaxDocIDLength is the longest document id (and topic name).
const MaxDocIDLength = revision.MaxDocIDLength

// ValidDocID reports whether id is a document id: 1–128 characters, each an
// ASCII letter, a digit, or one of ": _ . / -" (the engine's rule:
// [revision.BadDocIDByte]).
func ValidDocID(id string) bool {
	return len(id) > 0 && len(id) <= MaxDocIDLength && revision.BadDocIDByte(id) < 0
}

// ValidTopic reports whether name is a topic name. Topics are a namespace
// of their own with the same rule as document ids.
func ValidTopic(name string) bool { return ValidDocID(name) }

const docIDRule = "must be 1–128 characters of letters, digits and : _ . / -"

// ParseClientID validates a client id (a ULID, in either case) and returns
// it in canonical upper-case form, so that one client is one key.
func ParseClientID(s string) (string, error) {
	e, err := revision.ParseEpoch(s)
	if err != nil {
		return "", &Error{Code: CodeInvalidArgument, Message: "clientId: must be a ULID (26 characters of Crockford base32)"}
	}
	return string(e), nil
}
