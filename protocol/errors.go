package protocol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/deltasync/syncd/internal/jsonkit"
)

// Code is an error code as it appears in the code field of an ERROR or
// RPC_ERROR payload. The 13 standard codes are ws-kit's (gRPC's names);
// applications may use codes of their own, which carry no retry metadata:
// for them retryable is sent only when [Error.RetryAfter] is set.
type Code string

// The standard codes.
const (
	// Not retryable: retrying the same request gives the same answer.
	CodeUnauthenticated    Code = "UNAUTHENTICATED"     // credentials missing, expired or invalid
	CodePermissionDenied   Code = "PERMISSION_DENIED"   // authenticated but not allowed
	CodeInvalidArgument    Code = "INVALID_ARGUMENT"    // malformed or invalid input
	CodeFailedPrecondition Code = "FAILED_PRECONDITION" // the state does not allow it (e.g. a JSON Patch test failed)
	CodeNotFound           Code = "NOT_FOUND"           // the target does not exist
	CodeAlreadyExists      Code = "ALREADY_EXISTS"      // already done (e.g. a request id already decided)
	CodeUnimplemented      Code = "UNIMPLEMENTED"       // unknown message type or feature
	CodeCancelled          Code = "CANCELLED"           // the call was cancelled

	// Retryable, after the retryAfterMs hint.
	CodeDeadlineExceeded  Code = "DEADLINE_EXCEEDED"  // timed out
	CodeResourceExhausted Code = "RESOURCE_EXHAUSTED" // rate limit, quota or buffer full
	CodeUnavailable       Code = "UNAVAILABLE"        // transient failure
	CodeAborted           Code = "ABORTED"            // conflict: refresh state, then retry

	// The server's fault; whether a retry helps depends on the case.
	CodeInternal Code = "INTERNAL"
)

// Retry says whether a client may retry a request that failed with a code.
type Retry uint8

const (
	RetryNever Retry = iota // do not retry the same request
	RetryAfter              // retry after the hint (retryAfterMs)
	RetryMaybe              // the server decides per error (INTERNAL, custom codes)
)

// CodeInfo is the retry metadata of a standard code.
type CodeInfo struct {
	Code  Code
	Retry Retry
	// Backoff is the default retryAfterMs hint for a retryable code.
	Backoff     time.Duration
	Description string
}

// Codes lists the 13 standard codes with their metadata, in ws-kit's order.
var Codes = []CodeInfo{
	{CodeUnauthenticated, RetryNever, 0, "credentials missing, expired or invalid"},
	{CodePermissionDenied, RetryNever, 0, "authenticated but lacks the right"},
	{CodeInvalidArgument, RetryNever, 0, "input failed decoding or validation"},
	{CodeFailedPrecondition, RetryNever, 0, "a state requirement is not met"},
	{CodeNotFound, RetryNever, 0, "the target does not exist"},
	{CodeAlreadyExists, RetryNever, 0, "already exists or already decided"},
	{CodeUnimplemented, RetryNever, 0, "message type or feature not supported"},
	{CodeCancelled, RetryNever, 0, "the call was cancelled"},
	{CodeDeadlineExceeded, RetryAfter, 50 * time.Millisecond, "the call timed out"},
	{CodeResourceExhausted, RetryAfter, 100 * time.Millisecond, "rate limit, quota or buffer exhausted"},
	{CodeUnavailable, RetryAfter, 100 * time.Millisecond, "transient failure"},
	{CodeAborted, RetryAfter, 50 * time.Millisecond, "concurrency conflict: refresh, then retry"},
	{CodeInternal, RetryMaybe, 200 * time.Millisecond, "unexpected server error"},
}

var codeIndex = func() map[Code]CodeInfo {
	m := make(map[Code]CodeInfo, len(Codes))
	for _, ci := range Codes {
		m[ci.Code] = ci
	}
	return m
}()

// Info returns the metadata of c, and false for a code that is not
// standard (an application's own code).
func (c Code) Info() (CodeInfo, bool) {
	ci, ok := codeIndex[c]
	return ci, ok
}

// Standard reports whether c is one of the 13 standard codes.
func (c Code) Standard() bool { _, ok := codeIndex[c]; return ok }

// Retryable reports whether the standard code c is retryable. INTERNAL and
// custom codes report false: the error itself must say (see [Error]).
func (c Code) Retryable() bool { ci, ok := codeIndex[c]; return ok && ci.Retry == RetryAfter }

// Error is a failure with a wire code. Handlers return it (or wrap it) to
// choose the code of the ERROR or RPC_ERROR the client receives; decoders
// and validators of this package return it for bad input, with Code
// INVALID_ARGUMENT and a Message that names the field.
type Error struct {
	Code    Code
	Message string
	// Details is sent as the payload's details: anything encoding/json
	// encodes as an object (a struct, a map, a json.RawMessage object). A
	// value that does not encode as an object is left out.
	Details any
	// RetryAfter overrides the code's default retryAfterMs hint. It is
	// never sent for a non-retryable standard code. For INTERNAL and custom
	// codes, a positive RetryAfter also marks the error retryable.
	RetryAfter time.Duration
	// Cause is the underlying error, for logs; it is never sent.
	Cause error
}

// NewError returns an error with code and message.
func NewError(code Code, message string) *Error { return &Error{Code: code, Message: message} }

// Errorf returns an error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// WithDetails returns a copy of e with Details set.
func (e *Error) WithDetails(details any) *Error {
	c := *e
	c.Details = details
	return &c
}

// Payload returns the wire form of e, filling retryable and retryAfterMs
// from the code's metadata: a retryable standard code gets retryable:true
// and a hint; a non-retryable one gets retryable:false and no hint.
func (e *Error) Payload() ErrorPayload {
	p := ErrorPayload{Code: e.Code, Message: e.Message}
	if p.Code == "" {
		p.Code = CodeInternal
	}
	if e.Details != nil {
		p.Details = encodeDetails(e.Details)
	}
	var retry Retry = RetryMaybe
	var hint time.Duration
	if ci, ok := p.Code.Info(); ok {
		retry, hint = ci.Retry, ci.Backoff
	}
	switch retry {
	case RetryNever:
		p.Retryable = boolPtr(false)
	case RetryAfter:
		p.Retryable = boolPtr(true)
		if e.RetryAfter > 0 {
			hint = e.RetryAfter
		}
		p.RetryAfterMs = int64Ptr(durationMs(hint))
	case RetryMaybe:
		if e.RetryAfter > 0 {
			p.Retryable = boolPtr(true)
			p.RetryAfterMs = int64Ptr(durationMs(e.RetryAfter))
		}
	}
	return p
}

// durationMs rounds d up to whole milliseconds, so that a positive hint is
// never sent as 0.
func durationMs(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

func encodeDetails(d any) json.RawMessage {
	var raw []byte
	switch v := d.(type) {
	case json.RawMessage:
		raw = v
	case Appender:
		raw = v.AppendJSON(nil)
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return nil
		}
		raw = b
	}
	s := jsonkit.Scanner{Data: raw}
	if s.Peek() != jsonkit.KindObject || !jsonkit.Valid(raw) {
		return nil
	}
	return raw
}

func boolPtr(b bool) *bool    { return &b }
func int64Ptr(v int64) *int64 { return &v }

// CodeOf returns the wire code for err: the code of an [*Error] in its
// chain, DEADLINE_EXCEEDED or CANCELLED for the context errors, INTERNAL for
// anything else, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Code == "" {
			return CodeInternal
		}
		return e.Code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return CodeDeadlineExceeded
	case errors.Is(err, context.Canceled):
		return CodeCancelled
	}
	return CodeInternal
}

// AsError returns err as an [*Error] fit to send: the [*Error] in its
// chain, or for any other error a new one with [CodeOf]'s code and a
// generic message (the text of an unknown error may hold internals, so it
// is kept only as the Cause). It returns nil for nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	code := CodeOf(err)
	msg := "internal error"
	switch code {
	case CodeDeadlineExceeded:
		msg = "deadline exceeded"
	case CodeCancelled:
		msg = "cancelled"
	}
	return &Error{Code: code, Message: msg, Cause: err}
}

// fieldError is the error of a decoder or validator about one field.
func fieldError(path, msg string) *Error {
	return &Error{
		Code:    CodeInvalidArgument,
		Message: path + ": " + msg,
		Details: fieldDetails{Field: path},
	}
}

// Field is the path of the field a decoding or validation error is about
// ("payload.patch"), "" for any other error.
func (e *Error) Field() string {
	if d, ok := e.Details.(fieldDetails); ok {
		return d.Field
	}
	return ""
}

// fieldDetails is the details object of a field error: {"field": path}.
type fieldDetails struct {
	Field string
}

func (d fieldDetails) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"field":`...)
	dst = jsonkit.AppendString(dst, d.Field)
	return append(dst, '}')
}
