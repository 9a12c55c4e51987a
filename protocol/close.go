package protocol

// Close codes: the status of a WebSocket close frame. 1000–1015 are RFC
// 6455's; 4000–4999 are for applications, and syncd defines those below.
// What a client should do after each is in [CloseCodes].
const (
	CloseNormal          = 1000 // the session ended on purpose
	CloseGoingAway       = 1001 // server shutting down (or client navigating away)
	CloseProtocolError   = 1002 // the peer broke the WebSocket protocol
	CloseUnsupportedData = 1003 // a frame type the endpoint cannot accept
	CloseNoStatus        = 1005 // (never sent) a close frame without a status
	CloseAbnormal        = 1006 // (never sent) the connection dropped without a close frame
	CloseInvalidPayload  = 1007 // a text frame that is not UTF-8
	ClosePolicyViolation = 1008 // a policy violation with no better code
	CloseMessageTooBig   = 1009 // an inbound message over the size limit
	CloseInternalError   = 1011 // the server failed unexpectedly
	CloseServiceRestart  = 1012 // the server is restarting
	CloseTryAgainLater   = 1013 // the server is overloaded, a message took too long to arrive, or the server is cut off from its store

	// syncd's codes. They echo HTTP statuses (4401 ~ 401) so they are easy
	// to remember.
	CloseUnauthenticated  = 4401 // credentials missing, invalid or expired
	CloseForbidden        = 4403 // authenticated but not allowed to stay connected
	CloseHeartbeatTimeout = 4408 // nothing heard from the client within the heartbeat timeout
	CloseReplaced         = 4409 // a newer connection with the same clientId took over
	CloseFlood            = 4429 // sustained sending past the rate limit
	CloseSlowConsumer     = 4503 // the outbound queue overflowed: the client reads too slowly
)

// CloseAction is what a client should do after a close code.
type CloseAction uint8

const (
	// ActionStop: do not reconnect automatically (a person or new
	// credentials must intervene).
	ActionStop CloseAction = iota
	// ActionReconnect: reconnect at once (with a little jitter) and resume:
	// JOIN again with (epoch, rev) and resend pending edits.
	ActionReconnect
	// ActionReconnectBackoff: reconnect and resume, after an exponential
	// backoff with jitter.
	ActionReconnectBackoff
)

func (a CloseAction) String() string {
	switch a {
	case ActionStop:
		return "stop"
	case ActionReconnect:
		return "reconnect and resume"
	case ActionReconnectBackoff:
		return "reconnect and resume after backoff"
	}
	return "unknown"
}

// CloseCodeInfo describes one close code.
type CloseCodeInfo struct {
	Code   int
	Name   string
	Action CloseAction
	// Sent says whether syncd's server sends the code today (1005 and
	// 1006 are only ever observed by a client; codes not sent are reserved
	// with the meaning given, for embedders and later versions).
	Sent        bool
	Description string
}

// CloseCodes is the table of close codes a syncd client may observe, with
// what to do after each; PROTOCOL.md quotes it. A code not listed means
// [ActionReconnectBackoff].
var CloseCodes = []CloseCodeInfo{
	{CloseNormal, "normal", ActionStop, true, "the server ended the session on purpose (an operator disconnected the client from the admin page)"},
	{CloseGoingAway, "going away", ActionReconnectBackoff, true, "the server is shutting down; another instance (or this one, restarted) will take the connection"},
	{CloseProtocolError, "protocol error", ActionStop, true, "the client broke the WebSocket protocol: a bug to fix, not to retry"},
	{CloseUnsupportedData, "unsupported data", ActionStop, false, "a frame type the server cannot accept"},
	{CloseNoStatus, "no status", ActionReconnectBackoff, false, "observed only: a close frame without a status"},
	{CloseAbnormal, "abnormal closure", ActionReconnectBackoff, false, "observed only: the connection dropped (network failure, crash)"},
	{CloseInvalidPayload, "invalid payload", ActionStop, false, "a text frame that is not UTF-8: a bug to fix"},
	{ClosePolicyViolation, "policy violation", ActionStop, false, "a policy violation with no more specific code"},
	{CloseMessageTooBig, "message too big", ActionReconnectBackoff, true, "a message exceeded maxMessageBytes; drop that message (do not resend it), then reconnect"},
	{CloseInternalError, "internal error", ActionReconnectBackoff, false, "the server failed unexpectedly"},
	{CloseServiceRestart, "service restart", ActionReconnectBackoff, false, "the server is restarting"},
	{CloseTryAgainLater, "try again later", ActionReconnectBackoff, true, "the server is overloaded (too many partly received messages), a message was not completed within messageTimeoutMs, or the server is cut off from its store"},
	{CloseUnauthenticated, "unauthenticated", ActionStop, true, "the connection's token expired (exp plus the server's leeway) without an accepted AUTH.REFRESH: reconnect only with new credentials"},
	{CloseForbidden, "forbidden", ActionStop, false, "not allowed: do not reconnect"},
	{CloseHeartbeatTimeout, "heartbeat timeout", ActionReconnect, true, "nothing was heard from the client within the heartbeat timeout (answer pings, or send HEARTBEAT)"},
	{CloseReplaced, "replaced", ActionStop, true, "a newer connection with the same clientId took over; reconnecting would take it back (two tabs must use two client ids)"},
	{CloseFlood, "flood", ActionReconnectBackoff, true, "the client kept sending past the rate limit; reconnect after a backoff of at least a few seconds, and send less"},
	{CloseSlowConsumer, "slow consumer", ActionReconnect, true, "the client read too slowly and its outbound queue overflowed; reconnect and resume with deltas"},
}

var closeIndex = func() map[int]CloseCodeInfo {
	m := make(map[int]CloseCodeInfo, len(CloseCodes))
	for _, c := range CloseCodes {
		m[c.Code] = c
	}
	return m
}()

// CloseInfo returns the table entry of code, and false if it has none.
func CloseInfo(code int) (CloseCodeInfo, bool) {
	c, ok := closeIndex[code]
	return c, ok
}

// CloseActionOf returns what a client should do after code; unknown codes
// mean reconnect after backoff, the safe default for availability.
func CloseActionOf(code int) CloseAction {
	if c, ok := closeIndex[code]; ok {
		return c.Action
	}
	return ActionReconnectBackoff
}

// ShouldReconnect reports whether a client should reconnect (and resume)
// after a close with code.
func ShouldReconnect(code int) bool { return CloseActionOf(code) != ActionStop }
