package syncd

// Violation is the cause a validation hook gives when it can say where the
// document breaks which rule: wrapped in an *Error (Err), it reaches the
// server, which sends InstancePath and KeywordLocation in the refusal's
// details so that a client can point at the offending field.
type Violation struct {
	// InstancePath is a JSON Pointer to the offending value in the
	// document as the edit would have left it ("" is the whole document).
	InstancePath string
	// KeywordLocation is a JSON Pointer to the rule in the schema, e.g.
	// "/properties/title/type".
	KeywordLocation string
	// Message says what is wrong, for people.
	Message string
}

// Error implements error.
func (v *Violation) Error() string {
	path := v.InstancePath
	if path == "" {
		path = "the document"
	}
	return "at " + path + ": " + v.Message + " (schema " + v.KeywordLocation + ")"
}
