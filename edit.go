package syncd

import (
	"context"
	"errors"

	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/revision"
)

// parsedEdit is an edit as the decision needs it, parsed once on the
// caller's goroutine before the document's lock is taken: the patch, its
// kind and compact payload (what the operation will carry), and whether the
// client's ids make it idempotent (the pending says whom to tell).
//
// It travels inside the [pending] that carries its records and stays there
// until the decision is durable or refused, because on a [SharedStore] a
// decision can be undone by another writer's commit: the engine then
// decides the same edit again against the document as the store holds it
// (rebase.go), and only the parsed edit remembers what the client asked.
type parsedEdit struct {
	// ctx is the caller's; the validation hook receives it. A decision
	// made again after a conflict runs without its cancellation.
	ctx context.Context
	// Edit is the caller's, except that Patch is a compact copy of the
	// caller's patch (what the operation will carry as its payload): the
	// caller may reuse its buffer once CommitAsync returns. It is nil
	// for a patch that does not parse.
	Edit
	// patch is the parsed patch, released after the first decision (its
	// memory goes to the next edit's); a decision made again parses the
	// payload anew, which only a conflict costs.
	patch    *delta.Patch
	parseErr error
	kind     OpKind
	// at is when the edit was first applied (Unix milliseconds), the
	// time its operation carries however often it is decided again: an
	// operation without client ids whose write had an unknown outcome is
	// recognised in the store by its content, time included (rebase.go).
	at int64
	// idempotent: the edit carries a client id and a request id, so its
	// decision is recorded in the client's watermark.
	idempotent bool
	// rateLimited marks the refusal of Engine.Refuse: nothing to apply,
	// only the decision to record.
	rateLimited bool
}

// parseEdit parses ed into p.edit. It returns a refusal when the edit
// cannot reach a decision at all: a malformed request id, or a malformed
// patch from a client without ids (with ids, the refusal of a malformed
// patch is a decision like any other, recorded by decideLocked).
func (e *Engine) parseEdit(ctx context.Context, doc string, ed *Edit, p *pending) *Error {
	pe := &p.edit
	pe.ctx, pe.Edit = ctx, *ed
	pe.Patch = nil
	if ed.ReqID != "" {
		if err := revision.ValidateReqID(ed.ReqID); err != nil {
			return e.refused(&Error{Code: CodeInvalid, Message: "invalid request id", Doc: doc, ReqID: ed.ReqID, Head: e.knownHead(doc), Err: err})
		}
	}
	pe.idempotent = ed.ClientID != "" && ed.ReqID != ""
	pe.patch, pe.parseErr = delta.ParsePatch(ed.Patch)
	if pe.parseErr == nil {
		pe.Patch, pe.parseErr = compactJSON(ed.Patch)
	}
	if pe.parseErr != nil && !pe.idempotent {
		pe.releasePatch()
		return e.refused(&Error{Code: CodeInvalid, Message: "invalid patch", Doc: doc, ReqID: ed.ReqID, Head: e.knownHead(doc), Err: pe.parseErr})
	}
	pe.kind = OpMerge
	if pe.parseErr == nil && pe.patch.Kind() == delta.JSONPatch {
		pe.kind = OpPatch
	}
	return nil
}

// releasePatch drops the parsed patch once the edit is decided.
func (pe *parsedEdit) releasePatch() {
	if pe.patch != nil {
		pe.patch.Release()
		pe.patch = nil
	}
}

// reparse parses the payload again for a decision made again.
func (pe *parsedEdit) reparse() {
	if pe.parseErr != nil || pe.patch != nil {
		return
	}
	pe.patch, pe.parseErr = delta.ParsePatch(pe.Patch)
}

// knownHead is doc's durable head if it is loaded, else 0: what an error
// about doc reports when no decision read the head.
func (e *Engine) knownHead(doc string) revision.Rev {
	pos, _ := e.Head(doc)
	return pos.Rev
}

// editError makes err, from a commit that did not reach a decision (the
// document could not be loaded, the engine closed, ctx ended), an *Error
// that names the document, the request id and the head, as every error
// CommitAsync reports does, so that its caller never asks for the head
// itself. Its code and wrapped cause are kept (a context error stays one
// for errors.Is).
func (e *Engine) editError(doc, reqID string, err error) error {
	var ee *Error
	if errors.As(err, &ee) && ee.Doc != "" && ee.ReqID == reqID {
		return err
	}
	out := &Error{Code: CodeOf(err), Doc: doc, ReqID: reqID, Head: e.knownHead(doc), Err: err}
	if ee != nil {
		out.Code, out.Message, out.Limit, out.Err = ee.Code, ee.Message, ee.Limit, ee.Err
		if ee.Head > out.Head {
			out.Head = ee.Head
		}
	} else {
		out.Message = err.Error()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			out.Code, out.Message = CodeUnavailable, "the request ended before the edit was decided"
		}
	}
	return out
}
