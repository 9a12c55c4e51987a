package delta

import (
	"errors"
	"strconv"
	"strings"
)

// The ways a patch can fail. Every error from ParsePatch, ParseJSONPatch,
// ParseMergePatch, ParsePointer and Patch.Apply wraps exactly one of the
// first three, and Patch.ApplyWithin may also fail with ErrTooLarge,
// ErrTooDeep or ErrTooMuchWork; test with errors.Is. The engine maps them to wire codes: an
// invalid patch is the sender's mistake whatever the document holds, while a
// missing path or a failed test depends on the document's current state.
var (
	// ErrInvalidPatch: the patch is malformed regardless of the document
	// (not JSON, wrong shape, unknown op, missing or ill-typed member, bad
	// pointer syntax, a move into the moved value's own child).
	ErrInvalidPatch = errors.New("delta: invalid patch")
	// ErrPathNotFound: a path does not exist in the document (missing
	// member or parent, array index out of range or malformed, "-" where
	// an existing element is needed, a scalar where a container is needed).
	ErrPathNotFound = errors.New("delta: path not found")
	// ErrTestFailed: a test operation found a different value.
	ErrTestFailed = errors.New("delta: test failed")
	// ErrTooLarge: an operation would have made the document larger than
	// its Budget allows (ApplyWithin), at that step of the patch.
	ErrTooLarge = errors.New("delta: document over the size budget")
	// ErrTooDeep: an operation would have nested the document deeper than
	// its Budget allows (ApplyWithin).
	ErrTooDeep = errors.New("delta: document over the depth budget")
	// ErrTooMuchWork: the patch would have walked more of the document
	// than its Budget allows (ApplyWithin).
	ErrTooMuchWork = errors.New("delta: patch over the work budget")
	// ErrOverLimit: a result would be larger than the caller allowed
	// (ComposeMerge). It is not a patch error.
	ErrOverLimit = errors.New("delta: result over the size limit")
)

// Error is the error type of this package: it says which operation failed,
// on which of its members, and wraps one of the sentinel errors above.
type Error struct {
	// Op is the index of the failing operation within a JSON Patch, or -1
	// when the error concerns the patch as a whole (and for merge patches).
	Op int
	// Field is the operation member at fault: "op", "path", "from" or
	// "value"; "" when no single member is.
	Field string
	// Path is the JSON Pointer involved (the value of Field when that is
	// "path" or "from"), if any.
	Path string
	// Err is ErrInvalidPatch, ErrPathNotFound, ErrTestFailed, ErrTooLarge,
	// ErrTooDeep or ErrTooMuchWork.
	Err error
	// Reason says what went wrong, in words meant for people.
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("delta: error")
	}
	if e.Op >= 0 {
		b.WriteString(": op ")
		b.WriteString(strconv.Itoa(e.Op))
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
		if e.Field == "path" || e.Field == "from" {
			b.WriteByte(' ')
			b.WriteString(strconv.Quote(e.Path))
		}
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

// Unwrap returns the sentinel, so errors.Is(err, ErrPathNotFound) works.
func (e *Error) Unwrap() error { return e.Err }

// invalid builds an ErrInvalidPatch error.
func invalid(op int, field, path, reason string) *Error {
	return &Error{Op: op, Field: field, Path: path, Err: ErrInvalidPatch, Reason: reason}
}
