package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/deltasync/syncd/protocol"
)

var (
	// ErrClosed is returned by calls on a client that was closed or that
	// stopped for good (a close code that says stop, PROTOCOL.md §8).
	ErrClosed = errors.New("client: closed")
	// ErrNotConnected is returned by calls that need a live connection
	// (RPCs, room messages) while the client is reconnecting. Edits never
	// return it: they wait in the pending queue.
	ErrNotConnected = errors.New("client: not connected")
	// ErrDisconnected is returned by an RPC whose connection ended before
	// the answer came: the server may or may not have acted on it.
	ErrDisconnected = errors.New("client: connection lost before the answer")
	// ErrLeft is returned by calls on a document handle after Leave.
	ErrLeft = errors.New("client: document left")
)

// CodeOutcomeUnknown is the code of a Rejection the client makes itself:
// after a reconnect answered with a snapshot whose outcomes do not cover
// the edit (older than the 32 the server keeps, or of another epoch), the
// edit may or may not have committed (PROTOCOL.md §6.8 step 5) and
// Options.ReissueUnknown chose not to re-issue it.
const CodeOutcomeUnknown protocol.Code = "OUTCOME_UNKNOWN"

// CodeSuperseded is the code of a Rejection the client makes itself: an
// edit to re-issue under a new id (after a retryable refusal, or a
// reconnect that showed it was never applied) whose every member this
// client's later edits of the document set again. It was not applied, and
// applying it now would overwrite them (supersede.go); the view does not
// change when it is dropped.
const CodeSuperseded protocol.Code = "SUPERSEDED"

// Server errors (RPC_ERROR answers, refused JOINs) are returned as
// *protocol.Error, whose Code is the wire code; protocol.CodeOf extracts it
// from any error.

// DialError is a refused WebSocket upgrade: the server answered with a
// plain HTTP status (PROTOCOL.md §2.4).
type DialError struct {
	Status int    // HTTP status, 0 if the connection itself failed
	URL    string // the URL dialed, without its query (which may hold a token)
	Err    error
}

func (e *DialError) Error() string {
	if e.Status != 0 {
		msg := fmt.Sprintf("client: upgrade refused: HTTP %d", e.Status)
		if e.URL != "" {
			msg += " from " + e.URL
		}
		if hint := e.hint(); hint != "" {
			msg += ": " + hint
		}
		return msg
	}
	return "client: dial: " + e.Err.Error()
}

// hint says what to fix for the refusals a mistake of the caller causes.
func (e *DialError) hint() string {
	u, err := url.Parse(e.URL)
	wrongPath := err == nil && !strings.HasSuffix(u.Path, "/ws")
	switch {
	case wrongPath && (e.Status == http.StatusOK || e.Status == http.StatusNotFound || e.Status == http.StatusMethodNotAllowed):
		// A 200 is the demo page or another ordinary page: the URL
		// names an HTTP page, not the WebSocket endpoint.
		fixed := *u
		fixed.Path = strings.TrimSuffix(u.Path, "/") + "/ws"
		return fmt.Sprintf("this is not the WebSocket endpoint; syncd serves it at /ws: set Options.URL to %s", fixed.String())
	case e.Status == http.StatusUnauthorized:
		return "the server needs credentials: set Options.Token (PROTOCOL.md §2.3)"
	case e.Status == http.StatusForbidden:
		return "the server refused this Origin or these credentials (PROTOCOL.md §2.4)"
	}
	return ""
}

func (e *DialError) Unwrap() error { return e.Err }

// permanent reports whether the refusal will not change by retrying:
// fix the client or its credentials first.
func (e *DialError) permanent() bool {
	switch e.Status {
	case 400, 401, 403, 426:
		return true
	}
	return false
}

// CloseError is why the client stopped for good: the server closed the
// connection with a code that says not to reconnect.
type CloseError struct {
	Code int
	Text string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("client: connection closed with %d %s", e.Code, e.Text)
}
