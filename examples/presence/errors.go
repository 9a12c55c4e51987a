package presence

import (
	"context"
	"errors"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
)

// engineError turns an engine error into what the client is told: the one
// place where the engine's codes become wire codes. An error answering an
// UPDATE (clientReqID set) carries details {clientReqId, serverRev}, so the
// client can roll that request back.
func engineError(err error, clientReqID string) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return updateError(pe, clientReqID, 0)
	}
	code, msg := protocol.CodeInternal, "internal error"
	var ee *syncd.Error
	var head uint64
	switch {
	case errors.Is(err, context.Canceled):
		code, msg = protocol.CodeCancelled, "the connection ended"
	case errors.Is(err, context.DeadlineExceeded):
		code, msg = protocol.CodeDeadlineExceeded, "timed out"
	case errors.As(err, &ee):
		head = uint64(ee.Head)
		switch ee.Code {
		case syncd.CodeInvalid:
			code = protocol.CodeInvalidArgument
		case syncd.CodeConflict, syncd.CodeEpoch:
			code = protocol.CodeAborted
		case syncd.CodePrecondition, syncd.CodeRejected:
			code = protocol.CodeFailedPrecondition
		case syncd.CodeTooLarge, syncd.CodeExhausted:
			code = protocol.CodeResourceExhausted
		case syncd.CodeDuplicate:
			code = protocol.CodeAlreadyExists
		case syncd.CodeUnavailable, syncd.CodeClosed:
			code = protocol.CodeUnavailable
		}
		if code != protocol.CodeInternal {
			msg = ee.Message
		}
	}
	return updateError(&protocol.Error{Code: code, Message: msg, Cause: err}, clientReqID, head)
}

// updateError adds the details of a refused UPDATE to e.
func updateError(e *protocol.Error, clientReqID string, serverRev uint64) *protocol.Error {
	if clientReqID == "" {
		return e
	}
	return e.WithDetails(updateDetails{ClientReqID: clientReqID, ServerRev: serverRev})
}
