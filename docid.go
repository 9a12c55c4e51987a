package syncd

import (
	"fmt"

	"github.com/deltasync/syncd/revision"
)

// MaxDocIDLength is the longest document id (the rule is revision's, shared
// with the wire protocol).
const MaxDocIDLength = revision.MaxDocIDLength

// ValidateDocID checks a document id: 1–128 characters, each a letter, a
// digit, or one of ": _ . / -".
func ValidateDocID(id string) error {
	if len(id) == 0 || len(id) > MaxDocIDLength {
		return &Error{Code: CodeInvalid, Message: fmt.Sprintf("document id must be 1–%d characters, got %d", MaxDocIDLength, len(id)), Doc: id}
	}
	if i := revision.BadDocIDByte(id); i >= 0 {
		return &Error{Code: CodeInvalid, Message: fmt.Sprintf("document id has a character not allowed at byte %d (allowed: letters, digits and : _ . / -)", i), Doc: id}
	}
	return nil
}
