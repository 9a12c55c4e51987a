package syncd

import (
	"errors"
	"fmt"

	"github.com/deltasync/syncd/revision"
)

// Sentinel errors of the Store contract.
var (
	// ErrNotFound: the document (or the epoch asked for) does not exist.
	ErrNotFound = errors.New("syncd: not found")
	// ErrGone: the operations asked for were trimmed by retention.
	ErrGone = errors.New("syncd: operations no longer retained")
	// ErrConflict: a write did not match the stored state (wrong head
	// revision or epoch, or creating a document that exists).
	ErrConflict = errors.New("syncd: store conflict")
	// ErrUnavailable: the store failed transiently; retry later.
	ErrUnavailable = errors.New("syncd: store unavailable")
)

// Code classifies the engine's errors. The server maps each code to a wire
// error code in one place (server/errors.go); embedders switch on it.
type Code uint8

const (
	// CodeInternal: a bug or an unexpected store failure.
	CodeInternal Code = iota
	// CodeInvalid: the request is malformed (bad document id, malformed
	// patch, a patch that would make the root a non-object, a base
	// revision ahead of the head). Retrying it unchanged cannot succeed.
	CodeInvalid
	// CodeConflict: the edit's base revision is behind the head and an
	// operation since then touched an overlapping path (policy rebase), or
	// the base is not the head (policy strict). Rebase and retry under a
	// new request id.
	CodeConflict
	// CodeEpoch: the edit names an epoch that is not the document's: the
	// client's view belongs to an older history. Rejoin, then retry.
	CodeEpoch
	// CodePrecondition: the patch does not fit the document: a failing
	// JSON Patch test, or a path that does not exist.
	CodePrecondition
	// CodeDuplicate: the request id is at or below the client's watermark:
	// the engine decided it before (committed or refused), and never
	// applies it again.
	CodeDuplicate
	// CodeTooLarge: the edit would make the document exceed its size limit.
	CodeTooLarge
	// CodeRejected: the embedder's validation hook refused the edit.
	CodeRejected
	// CodeNotFound: the document does not exist (read-only calls only;
	// edits and subscriptions create documents).
	CodeNotFound
	// CodeGone: the operations asked for were trimmed by retention; read
	// a snapshot instead.
	CodeGone
	// CodeUnavailable: the store failed; the edit was not applied. Retry
	// (the same request id is safe to resend).
	CodeUnavailable
	// CodeClosed: the engine is closed.
	CodeClosed
	// CodeExhausted: the engine is out of a resource it bounds: every one
	// of the Options.MaxLoadedDocs documents in memory is in use, so
	// another cannot be loaded. Nothing was changed; retry later.
	CodeExhausted
	// CodeRateLimited: the server refused the edit for a reason of its own,
	// a rate limit ([Engine.Refuse]). Only seen in outcomes
	// ([Store.Outcomes]); Refuse's caller reports the refusal itself.
	CodeRateLimited
)

var codeNames = [...]string{
	CodeInternal:     "internal",
	CodeInvalid:      "invalid",
	CodeConflict:     "conflict",
	CodeEpoch:        "epoch",
	CodePrecondition: "precondition",
	CodeDuplicate:    "duplicate",
	CodeTooLarge:     "too_large",
	CodeRejected:     "rejected",
	CodeNotFound:     "not_found",
	CodeGone:         "gone",
	CodeUnavailable:  "unavailable",
	CodeClosed:       "closed",
	CodeExhausted:    "exhausted",
	CodeRateLimited:  "rate_limited",
}

// ParseCode returns the code named name (the inverse of [Code.String]),
// and false for a name no code has: a stored outcome written by a newer
// version, say.
func ParseCode(name string) (Code, bool) {
	for c, n := range codeNames {
		if n == name {
			return Code(c), true
		}
	}
	return CodeInternal, false
}

// String names the code.
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", uint8(c))
}

// Error is the engine's error value: a code, a message for people, and
// where it happened. Every refusal of an edit is an *Error carrying the
// document, the request id and the head revision at the time of the
// decision, which is what a client needs to rebase.
type Error struct {
	Code    Code
	Message string
	// Doc, ReqID and Head describe the refused edit, when there is one.
	Doc   string
	ReqID string
	Head  revision.Rev
	// Limit names the limit an edit would have gone over, when that is
	// why it was refused.
	Limit Limit
	// Err is the underlying cause, if any (a delta or store error).
	Err error
}

// Limit names one of the engine's limits on an edit, so that a refusal can
// say which one it hit (the server names it on the wire).
type Limit uint8

const (
	// LimitNone: the refusal is not about a limit.
	LimitNone Limit = iota
	// LimitDocSize is Options.MaxDocSize.
	LimitDocSize
	// LimitDocDepth is Options.MaxDocDepth.
	LimitDocDepth
	// LimitPatchOps is Options.MaxPatchOps.
	LimitPatchOps
	// LimitPatchWork is Options.MaxPatchWork.
	LimitPatchWork
)

// Error implements error.
func (e *Error) Error() string {
	msg := "syncd: " + e.Code.String() + ": " + e.Message
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the code of err: the Code of the *Error in its chain, or
// CodeInternal for any other non-nil error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Errorf builds an *Error. Validation hooks return one to refuse an edit
// with a code of their choice (a plain error refuses with CodeRejected).
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
