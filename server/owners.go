package server

import (
	"errors"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// Client ids and who may present them (PROTOCOL.md §2.2). A client id is
// the key to its client's watermarks and to its one live connection, so
// before a connection may use one, the store's client record
// ([syncd.Store.ClaimClient]) is consulted and updated, durably:
//
//   - With authentication on, the id belongs to the user who first used
//     it, for as long as the store lasts (watermarks live as long as their
//     documents, so the binding must too). Another user is refused with
//     HTTP 403 before the upgrade: it cannot read the owner's watermarks,
//     move them, or close the owner's connection.
//   - A client that sends the "attempt" parameter (router/attempt.go) has
//     its newest attempt recorded; an attempt at or below it is a stale
//     upgrade of a connection the client gave up on, refused with HTTP 409
//     so it cannot replace the client's newer connection, even after a
//     restart or on another instance.
//
// Without authentication and without an attempt value nothing is stored:
// there, what protects a client id is that nobody else learns it (the wire
// shows only author ids, author.go).

// claimClient checks and records the claim of the upgrade req, made by
// owner ("" without authentication), on its client id.
func (s *Server) claimClient(req router.AuthRequest, owner string) error {
	attempt := req.Attempt
	if req.ClientIDAssigned {
		// A fresh id has no stale attempts to fear: a delayed request
		// without a clientId gets an id of its own.
		attempt = ""
	}
	if owner == "" && attempt == "" {
		return nil
	}
	_, err := s.engine.ClaimClient(req.Request.Context(), syncd.ClientClaim{ClientID: req.ClientID, Owner: owner, Attempt: attempt})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syncd.ErrClientOwned):
		return protocol.NewError(protocol.CodePermissionDenied, "this clientId belongs to another user")
	case errors.Is(err, syncd.ErrStaleAttempt):
		return protocol.NewError(protocol.CodeAborted, "stale connection attempt: this clientId has made a newer one")
	}
	s.opts.Logger.Warn("client record", "client", req.ClientID, "err", err)
	return protocol.NewError(protocol.CodeUnavailable, "could not check the clientId; retry")
}
