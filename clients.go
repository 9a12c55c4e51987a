package syncd

import (
	"context"
	"errors"
	"fmt"

	"github.com/deltasync/syncd/revision"
)

// Client records. A client id carries the client's watermarks in every
// document it edited, so whoever may present the id decides which of the
// client's edits count as already decided. The store therefore keeps, per
// client id, a small record that the server consults at every connection
// attempt that needs it:
//
//   - Owner: with authentication on, the user (token subject) the id
//     belongs to, bound by the first attempt that claimed it. Another user
//     presenting the id is refused before it can read or move a watermark
//     or close the owner's connection.
//   - Attempt: the newest connection-attempt value the client sent (a value
//     from its monotonic request-id source). An attempt at or below it is
//     stale, a delayed upgrade of an abandoned connection, and is refused
//     so that it cannot replace the client's newer connection.
//
// A record is kept for as long as the store: a client's watermarks live in
// every document it edited for as long as that document does, so its
// binding must outlive them all. It is small (the id, a user name and a
// request id) and written only by connection attempts that carry an owner
// or an attempt value.

// Answers of [Store.ClaimClient]; like ErrNotFound they are answers, not
// failures of the store.
var (
	// ErrClientOwned: the client id belongs to another owner.
	ErrClientOwned = errors.New("syncd: client id belongs to another user")
	// ErrStaleAttempt: the client has made a newer connection attempt.
	ErrStaleAttempt = errors.New("syncd: a newer connection attempt of this client id was seen")
)

// Fixed bounds of a claim, so that a record stays small whatever a caller
// passes: the server's client ids are 26-character ULIDs and its owners
// JWT subjects, far below them.
const (
	MaxClientIDBytes = 128
	MaxOwnerBytes    = 1024
)

// ClientClaim is one connection attempt's claim on a client id.
type ClientClaim struct {
	ClientID string
	// Owner is the user making the attempt. Empty (no authentication)
	// skips the owner check and binds nothing.
	Owner string
	// Attempt is the attempt's value, ordered like request ids
	// ([revision.CompareReqID]). Empty skips the attempt check (a client
	// that does not send one).
	Attempt string
}

// ClientRecord is what a store keeps per client id. The zero value is a
// client id never claimed.
type ClientRecord struct {
	Owner   string
	Attempt string
}

// Check decides claim against the record r and returns the record after
// it: ErrClientOwned if r has an owner and claim names another one;
// ErrStaleAttempt if both carry an attempt and claim's is not greater;
// otherwise the owner is bound if r had none and the attempt raised. Stores
// call it inside their atomic step, so that every store decides alike.
func (r ClientRecord) Check(claim ClientClaim) (ClientRecord, error) {
	if claim.Owner != "" && r.Owner != "" && claim.Owner != r.Owner {
		return r, ErrClientOwned
	}
	if claim.Attempt != "" && r.Attempt != "" && revision.CompareReqID(claim.Attempt, r.Attempt) <= 0 {
		return r, ErrStaleAttempt
	}
	if r.Owner == "" {
		r.Owner = claim.Owner
	}
	if claim.Attempt != "" {
		r.Attempt = claim.Attempt
	}
	return r, nil
}

// Validate checks that the claim is well formed: a client id, and an
// attempt (when present) shaped like a request id.
func (c ClientClaim) Validate() error {
	if c.ClientID == "" || len(c.ClientID) > MaxClientIDBytes {
		return fmt.Errorf("syncd: client id of %d bytes", len(c.ClientID))
	}
	if c.Attempt != "" {
		if err := revision.ValidateReqID(c.Attempt); err != nil {
			return fmt.Errorf("syncd: connection attempt: %w", err)
		}
	}
	if len(c.Owner) > MaxOwnerBytes {
		return fmt.Errorf("syncd: owner of %d bytes", len(c.Owner))
	}
	return nil
}

// ClaimClient checks and records a connection attempt's claim on a client
// id, durably: see [Store.ClaimClient]. A server calls it before it lets a
// connection use the id.
func (e *Engine) ClaimClient(ctx context.Context, claim ClientClaim) (ClientRecord, error) {
	if err := claim.Validate(); err != nil {
		return ClientRecord{}, err
	}
	return e.store.ClaimClient(ctx, claim)
}
