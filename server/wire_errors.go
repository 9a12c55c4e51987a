package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
)

// This file is the one place where engine errors become wire errors and
// HTTP statuses.

// wireCode maps an engine code to a protocol code.
func wireCode(c syncd.Code) protocol.Code {
	switch c {
	case syncd.CodeInvalid, syncd.CodeTooLarge:
		// A document over its size limit will not fit on retry either:
		// the request is invalid for this document, not a quota.
		return protocol.CodeInvalidArgument
	case syncd.CodeConflict, syncd.CodeEpoch:
		return protocol.CodeAborted
	case syncd.CodePrecondition, syncd.CodeGone:
		return protocol.CodeFailedPrecondition
	case syncd.CodeDuplicate:
		return protocol.CodeAlreadyExists
	case syncd.CodeRejected:
		return protocol.CodePermissionDenied
	case syncd.CodeNotFound:
		return protocol.CodeNotFound
	case syncd.CodeUnavailable, syncd.CodeClosed:
		return protocol.CodeUnavailable
	case syncd.CodeExhausted, syncd.CodeRateLimited:
		return protocol.CodeResourceExhausted
	}
	return protocol.CodeInternal
}

// wireOutcomes turns the engine's outcomes (refusals named by engine code)
// into the wire's (refusals named by protocol code, as the ERROR that was
// lost would have named them).
func wireOutcomes(outs []revision.Outcome) []protocol.Outcome {
	if len(outs) == 0 {
		return nil
	}
	w := make([]protocol.Outcome, len(outs))
	for i, o := range outs {
		w[i] = protocol.Outcome{ClientReqID: o.ReqID, Rev: o.Rev}
		if !o.Committed() {
			// A name this build does not know (written by a newer one)
			// still says "refused".
			code, _ := syncd.ParseCode(o.Code)
			w[i].Code = wireCode(code)
		}
	}
	return w
}

// toWire converts any error from the engine (or a context) into a
// protocol error. Refusals of an UPDATE carry details {doc, clientReqId,
// serverRev}, so the client knows which edit and against which head.
func toWire(err error) *protocol.Error {
	if err == nil {
		return nil
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &protocol.Error{Code: protocol.CodeCancelled, Message: "cancelled", Cause: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &protocol.Error{Code: protocol.CodeDeadlineExceeded, Message: "timed out", Cause: err}
	}
	var ee *syncd.Error
	if !errors.As(err, &ee) {
		return &protocol.Error{Code: protocol.CodeInternal, Message: "internal error", Cause: err}
	}
	msg := ee.Message
	if ee.Err != nil && ee.Code != syncd.CodeInternal && ee.Code != syncd.CodeUnavailable {
		msg = withCause(msg, ee.Err.Error()) // patch errors name the operation and path
	}
	if ee.Code == syncd.CodeInternal {
		msg = "internal error"
	}
	return &protocol.Error{Code: wireCode(ee.Code), Message: msg, Cause: err}
}

// withCause appends a cause's text to a message for people, without the
// package prefix Go errors carry ("delta: ") and without saying twice what
// the message already says: "invalid patch" and "delta: invalid patch: op
// 0: …" make "invalid patch: op 0: …".
func withCause(msg, cause string) string {
	cause = strings.TrimPrefix(cause, "delta: ")
	if rest, ok := strings.CutPrefix(cause, msg); ok && (rest == "" || strings.HasPrefix(rest, ": ")) {
		return msg + rest
	}
	return msg + ": " + cause
}

// updateRefusal is toWire for an UPDATE, with its details. head is the
// document's head as the server knew it; the engine's own, when it
// reports one, is newer.
func updateRefusal(err error, doc, reqID string, head revision.Rev) *protocol.Error {
	pe := toWire(err)
	var ee *syncd.Error
	if errors.As(err, &ee) && ee.Doc != "" && ee.Head > head {
		head = ee.Head
	}
	det := protocol.UpdateErrorDetails{Doc: doc, ClientReqID: reqID, ServerRev: head}
	if ee != nil {
		det.Limit = limitName(ee.Limit)
	}
	var viol *syncd.Violation
	if errors.As(err, &viol) {
		return pe.WithDetails(violationDetails{det, viol})
	}
	return pe.WithDetails(det)
}

// limitName is the HELLO.limits name of an engine limit, "" for none.
func limitName(l syncd.Limit) string {
	switch l {
	case syncd.LimitDocSize:
		return protocol.LimitMaxDocumentBytes
	case syncd.LimitDocDepth:
		return protocol.LimitMaxDocumentDepth
	case syncd.LimitPatchOps:
		return protocol.LimitMaxPatchOps
	case syncd.LimitPatchWork:
		return protocol.LimitMaxPatchWorkBytes
	}
	return ""
}

// httpStatus maps a protocol code to an HTTP status for the HTTP API.
func httpStatus(c protocol.Code) int {
	switch c {
	case protocol.CodeInvalidArgument:
		return http.StatusBadRequest
	case protocol.CodeUnauthenticated:
		return http.StatusUnauthorized
	case protocol.CodePermissionDenied:
		return http.StatusForbidden
	case protocol.CodeNotFound:
		return http.StatusNotFound
	case protocol.CodeAborted, protocol.CodeAlreadyExists:
		return http.StatusConflict
	case protocol.CodeFailedPrecondition:
		return http.StatusPreconditionFailed
	case protocol.CodeResourceExhausted:
		return http.StatusTooManyRequests
	case protocol.CodeUnavailable:
		return http.StatusServiceUnavailable
	case protocol.CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	case protocol.CodeUnimplemented:
		return http.StatusNotImplemented
	case protocol.CodeCancelled:
		return 499 // client closed request
	}
	return http.StatusInternalServerError
}
