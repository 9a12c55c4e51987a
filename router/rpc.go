package router

import (
	"errors"

	"github.com/deltasync/syncd/protocol"
)

// RPC. A message that carries meta.correlationId is a request: it gets
// exactly one terminal answer, either a reply of the response type or
// RPC_ERROR, each echoing the correlationId, and before that any number of
// progress messages ($ws:rpc-progress, ws-kit's type). The first terminal
// answer wins; later ones return ErrAlreadyReplied and send nothing. A
// message without a correlationId is answered the same way, minus the
// correlationId, and with ERROR instead of RPC_ERROR.
//
// The router answers for the handler when the handler returns an error
// (and has not answered yet). When it returns nil without answering,
// nothing is sent: the handler may answer later from another goroutine,
// or the message needed no answer. HandleRPC replies with the handler's
// result itself.

// Reply sends the terminal reply: a message of type typ carrying the
// request's correlationId. The payload is encoded before the reply counts
// as sent, so an encoding error leaves the request unanswered (and the
// router answers it with the error if the handler returns it).
func (x *Ctx) Reply(typ string, payload any) error {
	f, err := NewFrameMeta(typ, x.replyMeta(), payload)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.replied {
		return ErrAlreadyReplied
	}
	x.replied = true
	return x.conn.enqueue(f)
}

// Progress sends a non-terminal update ($ws:rpc-progress with the
// correlationId). It fails with ErrNotRPC if the request has no
// correlationId and ErrAlreadyReplied after the terminal answer.
func (x *Ctx) Progress(payload any) error {
	if !x.IsRPC() {
		return ErrNotRPC
	}
	f, err := NewFrameMeta(protocol.TypeRPCProgress, x.replyMeta(), payload)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.replied {
		return ErrAlreadyReplied
	}
	return x.conn.enqueue(f)
}

// Error sends err as the terminal answer: RPC_ERROR with the
// correlationId, or ERROR for a message without one. err is mapped to a
// code by Options.MapError (by default: the *protocol.Error in its chain,
// or INTERNAL).
func (x *Ctx) Error(err error) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.replied {
		return ErrAlreadyReplied
	}
	x.replied = true
	return x.conn.sendError(x.meta.CorrelationID, x.conn.r.mapError(err))
}

// Replied reports whether the terminal answer was sent.
func (x *Ctx) Replied() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.replied
}

func (x *Ctx) replyMeta() protocol.Meta {
	return protocol.Meta{Timestamp: protocol.Now(), CorrelationID: x.meta.CorrelationID}
}

// sendError sends an ERROR, or an RPC_ERROR when correlationID is set.
func (c *Conn) sendError(correlationID string, e *protocol.Error) error {
	typ := protocol.TypeError
	if correlationID != "" {
		typ = protocol.TypeRPCError
	}
	return c.sendMeta(typ, protocol.Meta{Timestamp: protocol.Now(), CorrelationID: correlationID}, e)
}

// HandleRPC registers a request/response handler: the router decodes and
// validates the payload (as [Handle] does), calls h, and replies with h's
// result as a message of type replyType, or with RPC_ERROR if h fails. If h
// answered by itself (Reply or Error on the Ctx), its result is ignored.
func HandleRPC[P, R any](r *Router, typ, replyType string, h func(*Ctx, P) (R, error), mw ...Middleware) {
	Handle(r, typ, func(x *Ctx, p P) error {
		res, err := h(x, p)
		if err != nil {
			return err
		}
		if err := x.Reply(replyType, res); err != nil && !errors.Is(err, ErrAlreadyReplied) {
			return err
		}
		return nil
	}, mw...)
}
