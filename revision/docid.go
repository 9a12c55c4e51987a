package revision

// Document ids (and topic names) are the other names the engine and the
// wire protocol share; the rule lives here, in the package both import, so
// that they cannot disagree on it.

// MaxDocIDLength is the longest document id (and topic name).
const MaxDocIDLength = 128

// BadDocIDByte returns the index of the first byte of id that a document id
// may not hold, or -1 when every byte is allowed: an ASCII letter, a digit,
// or one of ": _ . / -". The length (1–[MaxDocIDLength]) is the caller's to
// check.
func BadDocIDByte(id string) int {
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == ':' || c == '_' || c == '.' || c == '/' || c == '-':
		default:
			return i
		}
	}
	return -1
}
