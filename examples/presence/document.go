package presence

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/deltasync/syncd"
)

// participantIn finds a participant in the meeting's encoded state.
func participantIn(state []byte, pid string) (Participant, bool, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(state, &all); err != nil {
		return Participant{}, false, fmt.Errorf("presence: the meeting does not decode: %w", err)
	}
	raw, ok := all[pid]
	if !ok {
		return Participant{}, false, nil
	}
	var p Participant
	if err := json.Unmarshal(raw, &p); err != nil {
		return Participant{}, false, fmt.Errorf("presence: participant %q does not decode: %w", pid, err)
	}
	return p, true, nil
}

// participantFields are the fields every participant in the document has.
var participantFields = [...]string{"id", "name", "status", "lastActive"}

// validate is the engine's Validate hook, the document's last line of
// defence: after every edit, the participant it names is either gone or
// whole, under its own id. The handlers already make sure of it (an update
// is decided only for a participant its connection joined as, under the
// same lock as removals); the hook makes the rule the engine's, so no bug
// or later handler can leave a half participant for clients to trip over.
// It runs under the document's lock and only looks at one entry.
func validate(_ context.Context, v *syncd.Validation) error {
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(v.Edit.Patch, &patch); err != nil || len(patch) != 1 {
		return syncd.Errorf(syncd.CodeInvalid, "an edit of the meeting changes exactly one participant")
	}
	root, _ := v.State.(map[string]any)
	for pid := range patch {
		entry, ok := root[pid]
		if !ok {
			return nil // removed
		}
		obj, ok := entry.(map[string]any)
		if !ok {
			return syncd.Errorf(syncd.CodeInvalid, "participant %q must be an object", pid)
		}
		for _, f := range participantFields {
			if _, ok := obj[f]; !ok {
				return syncd.Errorf(syncd.CodePrecondition, "participant %q is not in the meeting", pid)
			}
		}
		if obj["id"] != pid {
			return syncd.Errorf(syncd.CodeInvalid, "participant %q must keep its id", pid)
		}
	}
	return nil
}
