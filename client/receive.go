package client

import (
	"encoding/json"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
)

// handle dispatches one server message (PROTOCOL.md §9.4). Unknown types
// and fields are ignored.
func (c *Client) handle(sess *session, data []byte) {
	env, err := protocol.DecodeServerEnvelope(data)
	if err != nil {
		c.log.Warn("syncd client: undecodable message", "err", err)
		return
	}
	corr := env.Meta.CorrelationID
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != sess {
		return // a late message of a session already replaced
	}
	switch env.Type {
	case protocol.TypeSyncSnapshot:
		var p protocol.SyncSnapshot
		if c.decode(env, &p) {
			if d := c.docs[p.Doc]; d != nil {
				catchUp := corr != "" && corr == d.joinCorr
				if catchUp || d.live {
					d.snapshotLocked(&p, catchUp)
				}
			}
		}
	case protocol.TypeSyncDeltas:
		var p protocol.SyncDeltas
		if c.decode(env, &p) {
			if d := c.docs[p.Doc]; d != nil {
				d.deltasLocked(&p, corr != "" && corr == d.joinCorr)
			}
		}
	case protocol.TypePresence:
		var p protocol.Presence
		if c.decode(env, &p) {
			if d := c.docs[p.Doc]; d != nil {
				d.presenceLocked(&p)
			}
		}
	case protocol.TypeMessage:
		var p protocol.Message
		if c.decode(env, &p) {
			c.messageLocked(&p)
		}
	case protocol.TypeError, protocol.TypeRPCError:
		var p protocol.ErrorPayload
		if c.decode(env, &p) {
			c.errorLocked(corr, &p)
		}
	case protocol.TypeHello, protocol.TypeRevisionGap, protocol.TypeHeartbeatAck, protocol.TypeRPCProgress:
		// Nothing to do: a gap is followed by its snapshot.
	default:
		if corr != "" {
			if ch, ok := c.rpcs[corr]; ok {
				delete(c.rpcs, corr)
				ch <- rpcResult{payload: append(json.RawMessage(nil), env.Payload...)}
			}
		}
	}
}

func (c *Client) decode(env protocol.Envelope, v protocol.PayloadDecoder) bool {
	if err := v.UnmarshalPayload(env.Payload); err != nil {
		c.log.Warn("syncd client: bad payload", "type", env.Type, "err", err)
		return false
	}
	return true
}

// revokedLocked tells Options.OnRevoked, on the event goroutine.
func (c *Client) revokedLocked(r Revocation) {
	if f := c.opts.OnRevoked; f != nil && c.ev != nil {
		c.ev.push(func() { f(r) })
	}
}

// errorLocked routes an ERROR or RPC_ERROR: to the RPC it answers, to the
// JOIN it refuses, or to the pending edit it refuses.
func (c *Client) errorLocked(corr string, p *protocol.ErrorPayload) {
	if corr != "" {
		if ch, ok := c.rpcs[corr]; ok {
			delete(c.rpcs, corr)
			ch <- rpcResult{err: p.Err()}
			return
		}
		if d, ok := c.joins[corr]; ok {
			d.joinRefusedLocked(p)
			return
		}
	}
	var det struct {
		Doc               string          `json:"doc"`
		Topic             string          `json:"topic"`
		ClientReqID       string          `json:"clientReqId"`
		MessagesPerSecond json.RawMessage `json:"messagesPerSecond"` // the flood guard's (§9.4)
	}
	if len(p.Details) > 0 {
		_ = json.Unmarshal(p.Details, &det)
	}
	if det.ClientReqID != "" {
		if d := c.docs[det.Doc]; d != nil {
			d.refusedLocked(det.ClientReqID, p)
			return
		}
	}
	if p.Code == protocol.CodePermissionDenied && corr == "" && det.Doc != "" && det.ClientReqID == "" {
		if d := c.docs[det.Doc]; d != nil && d.live {
			// A token refresh took the document away (PROTOCOL.md
			// §4.10): the server left it. Its edits wait, unsent, for a
			// re-join, which the next connection tries.
			c.log.Warn("syncd client: document revoked by the refreshed token", "doc", det.Doc, "message", p.Message)
			d.live = false
			d.notifyLocked()
			c.revokedLocked(Revocation{Doc: det.Doc, Message: p.Message})
			return
		}
	}
	if p.Code == protocol.CodePermissionDenied && corr == "" && det.Topic != "" {
		// A refreshed token took the topic away, or refused its renewal
		// after a reconnect (sent without a correlationId): it is left
		// for good, not renewed at every reconnect and refused again.
		if _, ok := c.topics[det.Topic]; ok {
			delete(c.topics, det.Topic)
			c.log.Warn("syncd client: topic revoked", "topic", det.Topic, "message", p.Message)
			c.revokedLocked(Revocation{Topic: det.Topic, Message: p.Message})
			return
		}
	}
	if p.Code == protocol.CodeResourceExhausted && det.Doc == "" && len(det.MessagesPerSecond) > 0 {
		// The flood guard dropped a message without saying which: it may
		// have been an edit, which would then wait forever. Resuming on a
		// new connection settles every pending edit from the server's
		// watermark, so start over (with backoff, which also slows down).
		c.log.Warn("syncd client: flood guard fired, reconnecting", "message", p.Message)
		if c.sess != nil {
			go c.sess.close(websocket.CloseNormalClosure, "flood guard")
		}
		return
	}
	c.log.Warn("syncd client: server error", "code", p.Code, "message", p.Message)
}

// joinRefusedLocked handles a refused JOIN: the first one fails Join,
// unless the server could not decide it now (undecided: a store election,
// say), which is tried again, backing off, for as long as Join's context
// lasts; a re-join after a reconnect is tried again later if the code
// allows.
func (d *Doc) joinRefusedLocked(p *protocol.ErrorPayload) {
	c := d.c
	delete(c.joins, d.joinCorr)
	d.joinCorr = ""
	first := false
	select {
	case <-d.joined:
	default:
		first = true
	}
	if first && !(undecided(p.Code) && retryable(p)) {
		d.joinErr = p.Err()
		d.left = true
		delete(c.docs, d.id)
		close(d.joined)
		return
	}
	c.log.Warn("syncd client: join refused", "doc", d.id, "code", p.Code, "message", p.Message, "first", first)
	if retryable(p) && !overDocsPerConn(p) {
		wait := undecidedWait(d.joinRetries, p)
		d.joinRetries++
		sess := c.sess
		c.afterLocked(wait, func() {
			if c.sess == sess && !d.left && !d.live && d.joinCorr == "" {
				d.sendJoinLocked()
			}
		})
	} else {
		d.joinRefused, d.rejoinErr = true, p.Err()
		d.notifyLocked()
		c.checkEstablishedLocked()
	}
}

// afterLocked runs f under the client's lock after wait, unless the client
// stops first. The goroutine is owned by the client's WaitGroup.
func (c *Client) afterLocked(wait time.Duration, f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.ctx.Done():
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		f()
	}()
}

// retryAfterLocked holds e back for the refusal's retryAfterMs, or wait
// if longer, and flushes when it is over.
func (d *Doc) retryAfterLocked(e *edit, p *protocol.ErrorPayload, wait time.Duration) {
	e.notBefore = time.Time{}
	if p.RetryAfterMs != nil {
		wait = max(wait, time.Duration(*p.RetryAfterMs)*time.Millisecond)
	}
	if wait > 0 {
		e.notBefore = time.Now().Add(wait)
		d.c.afterLocked(wait, d.flushLocked)
	}
}

// An edit refused with a refusal that is not a decision (undecided) is
// tried again up to maxUndecidedRetries times (at least; MaxRetries if
// larger), after undecidedBackoff doubled each time, at most 5 s: ~26 s
// in all, enough to ride out a cluster's stream election. A resent edit
// goes again under the same id, any other under a new one; then the
// client gives up and reports it (OUTCOME_UNKNOWN for a resent edit).
const (
	maxUndecidedRetries = 10
	undecidedBackoff    = 100 * time.Millisecond
)

// undecidedWait is the wait before attempt n+1 (n from 0) after an
// undecided refusal: the backoff, or the server's hint if longer.
func undecidedWait(n int, p *protocol.ErrorPayload) time.Duration {
	wait := min(undecidedBackoff<<min(n, 10), 5*time.Second)
	if p.RetryAfterMs != nil {
		wait = max(wait, time.Duration(*p.RetryAfterMs)*time.Millisecond)
	}
	return wait
}

// undecided says whether a refusal of an UPDATE leaves its id undecided
// and may pass (PROTOCOL.md §6.7, §7.2): the server could not decide it
// now, and did not record it.
func undecided(c protocol.Code) bool {
	return c == protocol.CodeUnavailable || c == protocol.CodeDeadlineExceeded
}

// overDocsPerConn reports whether p refuses a JOIN over the connection's
// document count (PROTOCOL.md §6.11): retryable in general, but not on
// this connection until a document is left, so not worth a timer.
func overDocsPerConn(p *protocol.ErrorPayload) bool {
	var det struct {
		Limit string `json:"limit"`
	}
	return p.Code == protocol.CodeResourceExhausted && len(p.Details) > 0 &&
		json.Unmarshal(p.Details, &det) == nil && det.Limit == protocol.LimitMaxDocsPerConnection
}

func retryable(p *protocol.ErrorPayload) bool {
	if p.Retryable != nil {
		return *p.Retryable
	}
	return p.Code.Retryable()
}

// refusedLocked handles a refused edit (PROTOCOL.md §9.6 step 5): it
// leaves the queue; a retryable refusal is re-issued under a new id,
// rebased on the current state, up to Options.MaxRetries times; any other
// is rolled back and reported. An edit resent after a lost connection is
// the exception (§6.7, "A resent edit"): a refusal that is not a decision
// sends it again under the same id, and ALREADY_EXISTS re-issues it.
func (d *Doc) refusedLocked(id string, p *protocol.ErrorPayload) {
	idx := -1
	for i, e := range d.pending {
		if e.id == id {
			idx = i
			break
		}
	}
	if idx < 0 {
		return // already settled (acknowledged, or re-issued under a new id)
	}
	e := d.pending[idx]
	if e.resent && undecided(p.Code) {
		// Not applied by this attempt, but the copy sent on the lost
		// connection may still be decided by the server the client left:
		// under a new id both could be applied. The same id cannot be.
		if e.resends < maxUndecidedRetries {
			wait := undecidedWait(e.resends, p)
			e.resends++
			d.resendAsIs(e) // keeps its place: later edits wait behind it
			e.notBefore = time.Now().Add(wait)
			d.c.afterLocked(wait, d.flushLocked)
			return
		}
		d.pending = append(d.pending[:idx:idx], d.pending[idx+1:]...)
		d.recomputeLocked()
		d.emitLocked(Change{Kind: ChangeRollback, ReqID: e.id})
		d.rejectLocked(Rejection{ReqID: e.id, Code: CodeOutcomeUnknown, Message: "the edit was resent after a lost connection and the server could not decide it (" + string(p.Code) + "): it may or may not have been applied", Patch: e.raw})
		d.flushLocked()
		return
	}
	d.pending = append(d.pending[:idx:idx], d.pending[idx+1:]...)
	// ALREADY_EXISTS comes after the operation of an earlier decision, if
	// it committed (§6.7): for a resent edit whose operation was not seen,
	// it says no copy was applied or ever can be, so a new id is safe.
	again := p.Code != protocol.CodeAlreadyExists && retryable(p) || e.resent && p.Code == protocol.CodeAlreadyExists
	limit := d.c.opts.MaxRetries
	if limit >= 0 && undecided(p.Code) {
		// The server could not decide it (a store election, say): worth
		// more attempts, further apart, than a conflict.
		limit = max(limit, maxUndecidedRetries)
	}
	if again && e.retries < limit {
		if !d.supersedeLocked(e) {
			// Its client's later edits set again all it set: nothing to
			// re-issue, and the view does not change.
			d.recomputeLocked()
			d.notifyLocked()
			d.flushLocked()
			return
		}
		var det protocol.UpdateErrorDetails
		_ = json.Unmarshal(p.Details, &det)
		wait := time.Duration(0)
		if undecided(p.Code) {
			wait = undecidedWait(e.retries, p)
		}
		e.retries++
		e.id = d.c.newReqID()
		e.sent, e.resent = false, false
		e.keepBase = false
		// Wait for the operations the server had when it refused, so that
		// the retry is based on them (they may still be on their way).
		e.waitRev = det.ServerRev
		d.pending = append(d.pending, e)
		d.recomputeLocked()
		d.notifyLocked()
		d.retryAfterLocked(e, p, wait)
		d.flushLocked()
		return
	}
	d.recomputeLocked()
	d.emitLocked(Change{Kind: ChangeRollback, ReqID: e.id})
	d.rejectLocked(Rejection{ReqID: e.id, Code: p.Code, Message: p.Message, Patch: e.raw})
	d.flushLocked()
}
