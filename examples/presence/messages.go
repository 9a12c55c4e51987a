package presence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
)

// The seed's message types.
const (
	TypeJoin      = "JOIN"
	TypeUpdate    = "UPDATE"
	TypeLeave     = "LEAVE"
	TypeHeartbeat = "HEARTBEAT"

	TypeSnapshot    = "SYNC.SNAPSHOT"
	TypeDeltas      = "SYNC.DELTAS"
	TypeRevisionGap = "REVISION_GAP"
)

// The seed's operation types.
const (
	OpJoined  = "participant.joined"
	OpUpdated = "participant.updated"
	OpLeft    = "participant.left"
)

// A participant's statuses (the seed's enum).
const (
	StatusOnline  = "online"
	StatusAway    = "away"
	StatusOffline = "offline"
)

// Limits on what a client may put in the meeting.
const (
	MaxParticipantIDLength = 128
	MaxNameLength          = 256
)

// Participant is one entry of the meeting, as the seed defines it.
type Participant struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
	// LastActive is a time in Unix milliseconds: set by JOIN, or by the
	// participant's own UPDATE.
	LastActive int64 `json:"lastActive"`
}

// joinPayload is JOIN's payload. Rev is this example's extension: the last
// revision the client applied, if it has one (see the package
// documentation).
type joinPayload struct {
	ParticipantID string  `json:"participantId"`
	Name          string  `json:"name"`
	Rev           *uint64 `json:"rev"`
}

func (p joinPayload) Validate() error {
	if err := checkText("payload.participantId", p.ParticipantID, 1, MaxParticipantIDLength); err != nil {
		return err
	}
	return checkText("payload.name", p.Name, 0, MaxNameLength)
}

// updatePayload is UPDATE's payload.
type updatePayload struct {
	Patch       participantPatch `json:"patch"`
	BaseRev     *uint64          `json:"baseRev"`
	ClientReqID string           `json:"clientReqId"`
}

func (p updatePayload) Validate() error {
	if err := revision.ValidateReqID(p.ClientReqID); err != nil {
		return protocol.Errorf(protocol.CodeInvalidArgument, "payload.clientReqId: %v", err)
	}
	return p.Patch.validate()
}

// emptyPayload is the payload of LEAVE and HEARTBEAT: {} or none, and
// nothing else.
type emptyPayload struct{}

// participantPatch is UPDATE's patch: a partial participant. It decodes
// itself so that its errors name the field inside the patch.
type participantPatch struct {
	ID         *string
	Name       *string
	Status     *string
	LastActive *int64
}

// UnmarshalJSON decodes a patch strictly: an object whose fields are those
// of a participant, none of them null (in a merge patch, null would mean
// "delete the field", which would break the participant).
func (p *participantPatch) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return protocol.Errorf(protocol.CodeInvalidArgument, "payload.patch: want an object (a partial participant), got %s", jsonKind(b))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return protocol.Errorf(protocol.CodeInvalidArgument, "payload.patch: %v", err)
	}
	*p = participantPatch{}
	for name, raw := range fields {
		var dst any
		want := "string"
		switch name {
		case "id":
			dst = &p.ID
		case "name":
			dst = &p.Name
		case "status":
			dst = &p.Status
		case "lastActive":
			dst, want = &p.LastActive, "integer"
		default:
			return protocol.Errorf(protocol.CodeInvalidArgument, "payload.patch.%s: unknown field (a patch may set name, status and lastActive)", name)
		}
		if bytes.Equal(raw, []byte("null")) {
			return protocol.Errorf(protocol.CodeInvalidArgument, "payload.patch.%s: want %s, got null", name, want)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return protocol.Errorf(protocol.CodeInvalidArgument, "payload.patch.%s: want %s, got %s", name, want, raw)
		}
	}
	return nil
}

func (p *participantPatch) validate() error {
	if p.Name == nil && p.Status == nil && p.LastActive == nil {
		return protocol.NewError(protocol.CodeInvalidArgument, "payload.patch: changes nothing (set name, status or lastActive)")
	}
	if p.Name != nil {
		if err := checkText("payload.patch.name", *p.Name, 0, MaxNameLength); err != nil {
			return err
		}
	}
	if p.Status != nil {
		switch *p.Status {
		case StatusOnline, StatusAway, StatusOffline:
		default:
			return protocol.Errorf(protocol.CodeInvalidArgument, "payload.patch.status: want one of online, away, offline, got %q", *p.Status)
		}
	}
	if p.LastActive != nil && *p.LastActive < 0 {
		return protocol.NewError(protocol.CodeInvalidArgument, "payload.patch.lastActive: want a time in Unix milliseconds, got a negative number")
	}
	return nil
}

// fields returns what the patch changes, as the value of a merge patch of
// /<id>. It never carries id: that is how ToOperation tells an update from
// a join.
func (p *participantPatch) fields() any {
	return struct {
		Name       *string `json:"name,omitempty"`
		Status     *string `json:"status,omitempty"`
		LastActive *int64  `json:"lastActive,omitempty"`
	}{p.Name, p.Status, p.LastActive}
}

// checkText checks a string field's length (in bytes) and that it has no
// control characters.
func checkText(field, s string, minLen, maxLen int) error {
	if len(s) < minLen || len(s) > maxLen {
		return protocol.Errorf(protocol.CodeInvalidArgument, "%s: want %d–%d bytes, got %d", field, minLen, maxLen, len(s))
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		return protocol.Errorf(protocol.CodeInvalidArgument, "%s: control character at byte %d", field, i)
	}
	return nil
}

// jsonKind names the kind of a JSON value for an error message.
func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// Server payloads. encoding/json writes them; none has an optional field
// that could be null.

type snapshotPayload struct {
	Rev          uint64          `json:"rev"`
	Participants json.RawMessage `json:"participants"`
}

type deltasPayload struct {
	FromRev    uint64      `json:"fromRev"`
	ToRev      uint64      `json:"toRev"`
	Operations []Operation `json:"operations"`
}

type gapPayload struct {
	ExpectedRev    uint64 `json:"expectedRev"`
	ServerRev      uint64 `json:"serverRev"`
	BufferFirstRev uint64 `json:"bufferFirstRev"`
	ResumeFrom     uint64 `json:"resumeFrom"`
}

// updateDetails is the details of an ERROR answering an UPDATE: which
// request failed (so the client can roll it back) and the head revision.
type updateDetails struct {
	ClientReqID string `json:"clientReqId"`
	ServerRev   uint64 `json:"serverRev,omitempty"`
}

// mergePatch returns {"<pid>": value} encoded.
func mergePatch(pid string, value any) (json.RawMessage, error) {
	b, err := json.Marshal(map[string]any{pid: value})
	if err != nil {
		return nil, fmt.Errorf("presence: encoding a patch: %w", err)
	}
	return b, nil
}
