package syncd

import "fmt"

// MaxDocIDLength is the longest document id.
const MaxDocIDLength = 128

// ValidateDocID checks a document id: 1–128 characters, each a letter, a
// digit, or one of ": _ . / -".
func ValidateDocID(id string) error {
	if len(id) == 0 || len(id) > MaxDocIDLength {
		return &Error{Code: CodeInvalid, Message: fmt.Sprintf("document id must be 1–%d characters, got %d", MaxDocIDLength, len(id)), Doc: id}
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == ':' || c == '_' || c == '.' || c == '/' || c == '-':
		default:
			return &Error{Code: CodeInvalid, Message: fmt.Sprintf("document id has a character not allowed at byte %d (allowed: letters, digits and : _ . / -)", i), Doc: id}
		}
	}
	return nil
}
