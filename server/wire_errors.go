package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/router"
)

// This file is the one place where engine errors become wire errors and
// HTTP statuses, as wire.go is for the engine's values.

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
	// The engine's code first: an *syncd.Error may wrap a store read
	// that timed out, and its code says what that means for the edit
	// (CodeUnavailable: not applied; CodeInternal with ErrOutcomeUnknown:
	// maybe applied), which DEADLINE_EXCEEDED, retryable, would not.
	var ee *syncd.Error
	if !errors.As(err, &ee) {
		switch {
		case errors.Is(err, context.Canceled):
			return &protocol.Error{Code: protocol.CodeCancelled, Message: "cancelled", Cause: err}
		case errors.Is(err, context.DeadlineExceeded):
			return &protocol.Error{Code: protocol.CodeDeadlineExceeded, Message: "timed out", Cause: err}
		}
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

// refuseUpdate is toWire for an edit (an UPDATE, or an edit of the HTTP
// API), with the details every refusal of one carries, {doc, clientReqId,
// serverRev}, so that the client knows which edit was refused and against
// which head. serverRev is the head the engine decided against when err
// carries it (a decision: conflict, precondition, duplicate...); for a
// refusal the engine made no decision about (not joined, forbidden, the
// engine closed, a store failure), the head as the engine knows it now,
// looked up only then, on the refusal's path.
func refuseUpdate(e *syncd.Engine, err error, doc, reqID string) *protocol.Error {
	var ee *syncd.Error
	if errors.As(err, &ee) && ee.Doc == doc && ee.Head > 0 {
		return updateRefusal(err, doc, reqID, ee.Head)
	}
	return updateRefusal(err, doc, reqID, knownHead(e, doc))
}

// knownHead is the durable head of doc if it is in memory, else 0 (the
// wire's "had not loaded the document", PROTOCOL.md §5.4).
func knownHead(e *syncd.Engine, doc string) revision.Rev {
	pos, _ := e.Head(doc)
	return pos.Rev
}

// updateRefusal is toWire for an edit refused against head.
func updateRefusal(err error, doc, reqID string, head revision.Rev) *protocol.Error {
	pe := toWire(err)
	det := protocol.UpdateErrorDetails{Doc: doc, ClientReqID: reqID, ServerRev: head}
	var ee *syncd.Error
	if errors.As(err, &ee) {
		det.Limit = limitName(ee.Limit)
	}
	var viol *syncd.Violation
	if errors.As(err, &viol) {
		return pe.WithDetails(violationDetails{det, viol})
	}
	return pe.WithDetails(det)
}

// malformedUpdate is the refusal of an UPDATE that failed decoding or
// validation, before the engine saw it: the decoder's {field}, and the
// edit's {doc, clientReqId, serverRev} whenever the payload names them
// (Update.UnmarshalPayload keeps them), so that the client can match the
// refusal to its pending edit.
func malformedUpdate(e *syncd.Engine, err error, p *protocol.Update) error {
	pe := toWire(err)
	if pe.Code != protocol.CodeInvalidArgument || (p.Doc == "" && p.ClientReqID == "") {
		return pe
	}
	var head revision.Rev
	if protocol.ValidDocID(p.Doc) {
		head = knownHead(e, p.Doc)
	}
	return pe.WithDetails(protocol.UpdateErrorDetails{Field: pe.Field(), Doc: p.Doc, ClientReqID: p.ClientReqID, ServerRev: head})
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

// closeUnsettled answers an edit whose outcome this server cannot tell
// (syncd.ErrOutcomeUnknown: its write, or another server's decision of
// it, may have landed, and the log could not be read to say; rare: the
// engine is closing, or the store stayed unreadable) by closing the
// connection with 1013, not with an ERROR: a refusal would make the
// client roll the edit back, or re-issue it under a new id and have it
// applied twice. Reconnected, the client settles it from the JOIN answer's
// watermark and outcomes, or resends it under the same id, which is
// applied at most once (PROTOCOL.md §6.6, §6.8).
func (s *Server) closeUnsettled(c *router.Conn, doc, reqID string, err error) {
	s.opts.Logger.Warn("edit outcome unknown: closing the connection so that the client settles it on reconnect",
		"client", c.ClientID(), "doc", doc, "req", reqID, "err", err)
	c.Close(protocol.CloseTryAgainLater, "the outcome of an edit is unknown here; reconnect to settle it")
}
