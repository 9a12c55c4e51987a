package presence

import (
	"context"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/router"
)

// join handles JOIN: it makes the connection speak for the participant
// (taking it over from another connection if need be), commits the join if
// it changes anything, and then subscribes the connection from the client's
// revision. Committing first means the answer — a snapshot, or the deltas
// since rev — already contains the join, as the seed's snapshot does.
func (a *App) join(x *router.Ctx, p joinPayload) error {
	s := sessionOf(x.Conn())
	ctx := x.Context()
	pid := p.ParticipantID

	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return protocol.NewError(protocol.CodeUnavailable, "the meeting is closing")
	}
	if s.pid != "" {
		a.mu.Unlock()
		return protocol.Errorf(protocol.CodeFailedPrecondition, "already joined as %q: send LEAVE first", s.pid)
	}
	snap, err := a.engine.State(ctx, a.opts.Doc)
	if err != nil {
		a.mu.Unlock()
		return engineError(err, "")
	}
	cur, present, err := participantIn(snap.State, pid)
	if err != nil {
		a.mu.Unlock()
		return engineError(err, "")
	}
	m := a.members[pid]
	if m == nil {
		m = &member{}
		a.members[pid] = m
	}
	a.stopGraceLocked(m)
	if old := m.owner; old != nil && old != s {
		old.pid = ""
		old.conn.Close(protocol.CloseReplaced, "replaced: the participant joined on another connection")
	}
	m.owner, s.pid = s, pid
	done := doneNil
	if !present || cur.Status != StatusOnline || cur.Name != p.Name {
		done = a.commitLocked(ctx, pid, Participant{ID: pid, Name: p.Name, Status: StatusOnline, LastActive: a.opts.Now().UnixMilli()}, syncd.Edit{})
	}
	a.mu.Unlock()

	if err := <-done; err != nil {
		a.release(s)
		return engineError(err, "")
	}
	var have revision.Position
	if p.Rev != nil {
		// The meeting has one history for the App's life, so the client's
		// revision belongs to the document's current epoch (see the
		// package documentation on restarts).
		have = revision.Position{Epoch: snap.Epoch, Rev: revision.Rev(*p.Rev)}
	}
	sub, err := a.engine.Subscribe(ctx, a.opts.Doc, syncd.SubscribeRequest{Have: have}, a.sinkFor(s))
	if err != nil {
		a.release(s)
		return engineError(err, "")
	}
	s.sub = sub
	return nil
}

// update handles UPDATE: the patch is merged into the sender's own
// participant. The answer is the operation echoing clientReqId in
// SYNC.DELTAS, or an ERROR whose details name the request.
func (a *App) update(x *router.Ctx, p updatePayload) error {
	s := sessionOf(x.Conn())
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.pid == "" {
		return updateError(protocol.NewError(protocol.CodeFailedPrecondition, "not in the meeting: send JOIN first"), p.ClientReqID, 0)
	}
	if p.Patch.ID != nil && *p.Patch.ID != s.pid {
		return updateError(protocol.Errorf(protocol.CodeInvalidArgument, "payload.patch.id: a participant can only patch itself (%q)", s.pid), p.ClientReqID, 0)
	}
	ed := syncd.Edit{ReqID: p.ClientReqID}
	if p.BaseRev != nil {
		ed.Base, ed.HasBase = revision.Rev(*p.BaseRev), true
	}
	// Refusals come back through the callback, possibly before
	// CommitAsync returns; it only queues an ERROR, never takes a.mu.
	a.commitAsyncLocked(x.Context(), s.pid, p.Patch.fields(), ed, func(_ *syncd.Op, err error) {
		if err != nil {
			x.Error(engineError(err, p.ClientReqID))
		}
	})
	return nil
}

// leave handles LEAVE: the participant is removed, the sender receives its
// own participant.left, and then nothing more until it joins again.
func (a *App) leave(x *router.Ctx, _ emptyPayload) error {
	s := sessionOf(x.Conn())
	a.mu.Lock()
	pid := s.pid
	if pid == "" {
		a.mu.Unlock()
		return protocol.NewError(protocol.CodeFailedPrecondition, "not in the meeting")
	}
	s.pid = ""
	done := doneNil
	if m := a.members[pid]; m != nil && m.owner == s {
		done = a.removeLocked(x.Context(), pid)
	}
	a.mu.Unlock()

	// The engine delivers an operation before it completes the commit, so
	// once done reports, the sender's own participant.left is queued.
	err := <-done
	if s.sub != nil {
		s.sub.Close()
		s.sub = nil
	}
	if err != nil {
		return engineError(err, "")
	}
	return nil
}

// heartbeat handles HEARTBEAT. The router marks a connection alive on every
// frame it reads, so there is nothing left to do.
func (a *App) heartbeat(*router.Ctx, emptyPayload) error { return nil }

// onStale runs when the router closed a connection for silence: the client
// is gone, so its participant leaves at once.
func (a *App) onStale(c *router.Conn) {
	s := sessionOf(c)
	if s == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	pid := s.pid
	if pid == "" || a.closing {
		return
	}
	s.pid = ""
	if m := a.members[pid]; m != nil && m.owner == s {
		a.removeLocked(context.Background(), pid)
	}
}

// onClose runs last for every connection: it ends the subscription and, if
// the connection still spoke for a participant, starts its grace period.
func (a *App) onClose(c *router.Conn, code int, reason string) {
	s := sessionOf(c)
	if s == nil {
		return
	}
	if s.sub != nil {
		s.sub.Close()
		s.sub = nil
	}
	a.release(s)
}

// release ends s's claim on its participant, which then waits out
// DisconnectGrace for its client to come back.
func (a *App) release(s *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	pid := s.pid
	if pid == "" {
		return
	}
	s.pid = ""
	m := a.members[pid]
	if m == nil || m.owner != s {
		return
	}
	m.owner = nil
	if a.closing {
		return
	}
	a.timers.Add(1)
	var t *time.Timer
	t = time.AfterFunc(a.opts.DisconnectGrace, func() {
		defer a.timers.Done()
		a.mu.Lock()
		defer a.mu.Unlock()
		// A JOIN or Shutdown since then stopped this timer, or tried to:
		// then m.grace is no longer t.
		if a.closing || a.members[pid] != m || m.grace != t {
			return
		}
		m.grace = nil
		a.removeLocked(context.Background(), pid)
	})
	m.grace = t
}

// stopGraceLocked cancels m's pending removal. a.mu must be held.
func (a *App) stopGraceLocked(m *member) {
	if m.grace == nil {
		return
	}
	if m.grace.Stop() {
		a.timers.Done() // it will never run
	}
	m.grace = nil
}

// removeLocked removes a participant from the meeting (and the membership
// table), reporting the commit's outcome on the returned channel. A
// participant that is not in the document needs no operation. a.mu must be
// held.
func (a *App) removeLocked(ctx context.Context, pid string) <-chan error {
	delete(a.members, pid)
	snap, err := a.engine.State(ctx, a.opts.Doc)
	if err != nil {
		return doneWith(err)
	}
	_, present, err := participantIn(snap.State, pid)
	if err != nil || !present {
		return doneWith(err)
	}
	return a.commitLocked(ctx, pid, nil, syncd.Edit{})
}

// commitLocked commits {"<pid>": value} and reports the outcome on the
// returned channel; failures are logged, since there may be nobody to tell.
// a.mu must be held: the edit is decided before it returns.
func (a *App) commitLocked(ctx context.Context, pid string, value any, ed syncd.Edit) <-chan error {
	done := make(chan error, 1)
	a.commitAsyncLocked(ctx, pid, value, ed, func(_ *syncd.Op, err error) {
		if err != nil {
			a.log.Warn("presence: a membership change failed", "participant", pid, "err", err)
		}
		done <- err
	})
	return done
}

// commitAsyncLocked commits {"<pid>": value} as a merge patch; then is
// called once, as by syncd.Engine.CommitAsync. a.mu must be held, so that
// the edit is decided in the order of the App's decisions.
func (a *App) commitAsyncLocked(ctx context.Context, pid string, value any, ed syncd.Edit, then func(*syncd.Op, error)) {
	patch, err := mergePatch(pid, value)
	if err != nil {
		then(nil, err)
		return
	}
	ed.Patch = patch
	a.engine.CommitAsync(ctx, a.opts.Doc, ed, then)
}

// doneNil is a result that is already there: nothing was committed.
var doneNil <-chan error = doneWith(nil)

func doneWith(err error) <-chan error {
	ch := make(chan error, 1)
	ch <- err
	close(ch)
	return ch
}
