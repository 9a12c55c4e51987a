package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
)

// ChangeKind says why a document's view changed.
type ChangeKind int

const (
	// ChangeLocal: this client's own edit, applied optimistically.
	ChangeLocal ChangeKind = iota + 1
	// ChangeRemote: operations of other clients (and of the HTTP API).
	ChangeRemote
	// ChangeSnapshot: the confirmed state was replaced by a snapshot.
	ChangeSnapshot
	// ChangeRollback: a refused edit was removed from the view.
	ChangeRollback
	// ChangeAck: the server committed one of this client's edits (ReqID)
	// as revision Rev. The view already showed it; it changes only if a
	// rebase ordered it differently.
	ChangeAck
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeLocal:
		return "local"
	case ChangeRemote:
		return "remote"
	case ChangeSnapshot:
		return "snapshot"
	case ChangeRollback:
		return "rollback"
	case ChangeAck:
		return "ack"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// Change describes one change of a document's view.
type Change struct {
	Doc  string
	Kind ChangeKind
	// Local reports whether the change is this client's own edit: made
	// here (ChangeLocal) or acknowledged (ChangeAck). A program that
	// mirrors other clients' edits skips Local changes.
	Local bool
	// Patches are what was applied: the local edit's patch, or the
	// remote operations' payloads in revision order. Empty for a snapshot
	// or a rollback, which replace the view as a whole.
	Patches []json.RawMessage
	// ReqID is the request id of the local, acknowledged or rolled-back
	// edit.
	ReqID string
	// Rev and Epoch are the confirmed position after the change; for
	// ChangeAck, Rev is the revision the edit committed as.
	Rev   revision.Rev
	Epoch revision.Epoch
}

// Rejection is an edit the server refused for good; it has been rolled
// back from the view.
type Rejection struct {
	Doc     string
	ReqID   string
	Code    protocol.Code // the server's code, or CodeOutcomeUnknown
	Message string
	Patch   json.RawMessage
}

// Doc is a joined document: its confirmed server state, this client's
// pending edits, and the view (the first with the second applied). Its
// methods are safe for concurrent use; its state is guarded by the
// client's lock.
type Doc struct {
	c  *Client
	id string

	// Guarded by c.mu.
	epoch     revision.Epoch
	rev       revision.Rev
	hasPos    bool // epoch and rev came from the server
	confirmed any
	view      any
	pending   []*edit
	editSeq   uint64    // the seq of the last edit made (edit.seq)
	ownEdits  []ownEdit // this client's recent acknowledged edits (supersede.go)
	live      bool      // the catch-up of the current session has arrived
	joinCorr  string    // correlation id of the JOIN in flight
	joined    chan struct{}
	joinErr   error
	// joinRetries counts the JOINs refused in a row (joinRefusedLocked's
	// backoff).
	joinRetries int
	// joinRefused: the last JOIN was refused and will not be sent again on
	// this connection. An answer all the same (§9.2 step 5).
	joinRefused bool
	// rejoinErr is that refusal, for Settled and WaitRev to report (the
	// next connection tries the JOIN again).
	rejoinErr error
	// joinWaiters counts the Join calls waiting for the first answer: the
	// JOIN is abandoned only when the last of them gives up.
	joinWaiters int
	left        bool
	changed     chan struct{} // closed and replaced at every change, for waiters

	presenceDue bool
	room        map[string]json.RawMessage
	myPresence  json.RawMessage
	// joinPresence is the presence the JOIN in flight carried: a value set
	// after it went out is sent once the JOIN is answered.
	joinPresence json.RawMessage

	onChange   []func(Change)
	onReject   []func(Rejection)
	onPresence []func(map[string]json.RawMessage)
	onMessage  []func(Message)
}

// edit is one pending edit (PROTOCOL.md §9.1).
type edit struct {
	id        string
	seq       uint64 // creation order in the document, kept when re-issued
	raw       json.RawMessage
	patch     *delta.Patch
	merge     bool
	sent      bool // baseRev and epoch are fixed once sent
	baseRev   revision.Rev
	epoch     revision.Epoch
	retries   int
	waitRev   revision.Rev // a retried edit waits until the view has this revision
	keepBase  bool         // resend with the baseRev and epoch of the first send
	notBefore time.Time    // a retried edit waits for the server's retryAfterMs
	// resent: this id went out on a connection that ended before its
	// answer, and was sent again (§6.8 step 2). A copy of it may still be
	// decided by the server the client left, so a refusal that is not a
	// decision does not settle it (refusedLocked).
	resent bool
	// resends counts the sends of the same id after such refusals.
	resends int
}

// Join joins doc and returns its handle once the server's first answer
// (the snapshot) has arrived, or ctx ends. Joining a document already
// joined returns the same handle. The document is re-joined by itself
// after every reconnect.
func (c *Client) Join(ctx context.Context, doc string) (*Doc, error) {
	if !protocol.ValidDocID(doc) {
		return nil, protocol.Errorf(protocol.CodeInvalidArgument, "invalid document id %q", doc)
	}
	c.mu.Lock()
	if c.closed || c.err != nil {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	d := c.docs[doc]
	if d == nil {
		d = &Doc{c: c, id: doc, joined: make(chan struct{}), changed: make(chan struct{}), room: map[string]json.RawMessage{}}
		c.docs[doc] = d
		d.sendJoinLocked()
	}
	d.joinWaiters++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		d.joinWaiters--
		c.mu.Unlock()
	}()
	select {
	case <-d.joined:
	case <-ctx.Done():
		c.mu.Lock()
		// Another Join of the same document may still be waiting, with a
		// context that has not ended: the document is its too.
		if c.docs[doc] == d && d.confirmed == nil && d.joinWaiters == 1 {
			delete(c.docs, doc)
			d.left = true
			if d.joinCorr != "" {
				// Its JOIN went out: undo it, or the server keeps the
				// document joined for the rest of the connection.
				delete(c.joins, d.joinCorr)
				d.joinCorr = ""
				c.sendLocked(protocol.TypeLeave, "", protocol.Leave{Doc: doc})
			}
		}
		c.mu.Unlock()
		return nil, ctx.Err()
	case <-c.done:
		return nil, ErrClosed
	}
	if d.joinErr != nil {
		return nil, d.joinErr
	}
	return d, nil
}

// ID returns the document's id.
func (d *Doc) ID() string { return d.id }

// Rev returns the confirmed revision.
func (d *Doc) Rev() revision.Rev {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return d.rev
}

// Epoch returns the epoch of the confirmed revision.
func (d *Doc) Epoch() revision.Epoch {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return d.epoch
}

// View returns a deep copy of the view: map[string]any, []any, string,
// json.Number, bool and nil (numbers keep their exact text).
func (d *Doc) View() any {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return delta.Clone(d.view)
}

// Confirmed returns a deep copy of the last state the server confirmed.
func (d *Doc) Confirmed() any {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return delta.Clone(d.confirmed)
}

// Get decodes the view into v with encoding/json.
func (d *Doc) Get(v any) error {
	d.c.mu.Lock()
	b, err := delta.Encode(d.view)
	d.c.mu.Unlock()
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Pending returns how many edits wait for the server's decision.
func (d *Doc) Pending() int {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	return len(d.pending)
}

// OnChange registers fn for every change of the view. Callbacks run on the
// client's event goroutine, in order, never under a lock.
func (d *Doc) OnChange(fn func(Change)) { register(&d.c.mu, &d.onChange, fn) }

// OnReject registers fn for every edit of this document the server refused
// for good (Options.OnReject is called too).
func (d *Doc) OnReject(fn func(Rejection)) { register(&d.c.mu, &d.onReject, fn) }

// Patch applies a JSON Patch (RFC 6902; a JSON array, given as bytes, a
// string, or any value encoding/json encodes as an array) to the view at
// once and queues it for the server. It returns the edit's request id.
// An error means the patch is malformed or does not apply to the view;
// nothing was queued then.
func (d *Doc) Patch(patch any) (string, error) { return d.edit(patch, false) }

// Merge is Patch for a JSON Merge Patch (RFC 7396; a JSON object).
func (d *Doc) Merge(patch any) (string, error) { return d.edit(patch, true) }

// patchJSON returns a patch's JSON: bytes and strings are taken as JSON
// text, anything else is encoded with encoding/json.
func patchJSON(v any) (json.RawMessage, error) {
	switch p := v.(type) {
	case string:
		return valueJSON(json.RawMessage(p))
	case []byte:
		return valueJSON(json.RawMessage(p))
	}
	return valueJSON(v)
}

// valueJSON returns a free JSON value (presence, room message): a
// json.RawMessage is taken as JSON text, anything else, strings included,
// is encoded with encoding/json. Invalid JSON is refused here, since the
// server could not even read the message that carried it.
func valueJSON(v any) (json.RawMessage, error) {
	if p, ok := v.(json.RawMessage); ok {
		if !json.Valid(p) {
			return nil, errors.New("client: invalid JSON")
		}
		return p, nil
	}
	return json.Marshal(v)
}

func (d *Doc) edit(v any, merge bool) (string, error) {
	raw, err := patchJSON(v)
	if err != nil {
		return "", err
	}
	var p *delta.Patch
	if merge {
		// A merge patch that is not an object would replace the whole
		// document, whose root must stay an object: the server refuses it,
		// so refuse it here, before the view shows it.
		if k := firstByte(raw); k != '{' {
			return "", fmt.Errorf("client: a merge patch must be a JSON object, got %s", jsonKind(k))
		}
		p, err = delta.ParseMergePatch(raw)
		if err == nil && p.Kind() != delta.MergePatch {
			err = errors.New("client: a merge patch must be an object")
		}
	} else {
		p, err = delta.ParseJSONPatch(raw)
	}
	if err != nil {
		return "", err
	}
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.left {
		return "", ErrLeft
	}
	if c.closed || c.err != nil {
		return "", ErrClosed
	}
	if max := c.limitLocked(protocol.LimitMaxMessageBytes); max > 0 && int64(len(raw))+512 > max {
		return "", protocol.Errorf(protocol.CodeInvalidArgument, "patch of %d bytes exceeds the server's maxMessageBytes %d", len(raw), max)
	}
	if _, err := p.Apply(&d.view); err != nil {
		return "", err
	}
	// Compact once so that resends and comparisons use the same bytes.
	if b, err := p.AppendJSON(nil); err == nil {
		raw = b
	}
	d.editSeq++
	e := &edit{id: c.newReqID(), seq: d.editSeq, raw: raw, patch: p, merge: merge}
	d.pending = append(d.pending, e)
	d.emitLocked(Change{Kind: ChangeLocal, Local: true, Patches: []json.RawMessage{raw}, ReqID: e.id})
	d.flushLocked()
	return e.id, nil
}

// firstByte returns the first byte of a JSON text that is not white space
// (0 for none): it says the value's kind.
func firstByte(raw []byte) byte {
	for _, b := range raw {
		switch b {
		case ' ', '\t', '\n', '\r':
		default:
			return b
		}
	}
	return 0
}

// jsonKind names the kind of JSON value that starts with b.
func jsonKind(b byte) string {
	switch {
	case b == '[':
		return "an array"
	case b == '"':
		return "a string"
	case b == 'n':
		return "null"
	case b == 't' || b == 'f':
		return "a boolean"
	case b == '-' || (b >= '0' && b <= '9'):
		return "a number"
	}
	return "nothing"
}

// flushLocked sends, in id order, the pending edits not sent yet, while
// the document is live. A retried edit waiting for a revision stops the
// flush (ids must reach the server in increasing order), and so does a
// full window: at most maxInFlight edits are sent and unanswered at once.
func (d *Doc) flushLocked() {
	if !d.live {
		return
	}
	inFlight := 0
	for _, e := range d.pending {
		if e.sent {
			inFlight++
		}
	}
	for _, e := range d.pending {
		if e.sent {
			continue
		}
		if e.waitRev > d.rev || time.Now().Before(e.notBefore) || inFlight >= maxInFlight {
			return
		}
		inFlight++
		if !e.keepBase {
			e.baseRev, e.epoch = d.rev, d.epoch
		}
		e.sent, e.keepBase = true, false
		d.sendEditLocked(e)
	}
}

// maxInFlight bounds the edits of one document sent and not yet answered:
// the JOIN answer after a lost connection carries the outcomes of the last
// revision.MaxOutcomes decisions, so a client that never has more in flight
// learns the outcome of every one (PROTOCOL.md §6.8). The answers of the
// first free a place for the next, so the window costs a pipelining client
// nothing while the server keeps up.
const maxInFlight = revision.MaxOutcomes

func (d *Doc) sendEditLocked(e *edit) {
	base := e.baseRev
	d.c.sendLocked(protocol.TypeUpdate, "", protocol.Update{
		Doc: d.id, Patch: e.raw, BaseRev: &base, Epoch: e.epoch, ClientReqID: e.id,
	})
}

// sendJoinLocked (re-)joins from the document's position.
func (d *Doc) sendJoinLocked() {
	c := d.c
	if c.sess == nil {
		return
	}
	if d.joinCorr != "" {
		delete(c.joins, d.joinCorr)
	}
	d.joinRefused, d.rejoinErr = false, nil
	d.live = false
	d.joinCorr = c.nextCorrLocked("j")
	c.joins[d.joinCorr] = d
	j := protocol.Join{Doc: d.id, Presence: d.myPresence}
	d.joinPresence = d.myPresence
	if d.hasPos {
		rev := d.rev
		j.Rev, j.Epoch = &rev, d.epoch
	}
	d.presenceDue = true
	c.sendLocked(protocol.TypeJoin, d.joinCorr, j)
}

// notifyLocked wakes the waiters of WaitFor.
func (d *Doc) notifyLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *Doc) emitLocked(ch Change) {
	d.notifyLocked()
	ch.Doc, ch.Epoch = d.id, d.epoch
	if ch.Rev == 0 {
		ch.Rev = d.rev
	}
	if len(d.onChange) == 0 {
		return
	}
	fns := d.onChange
	d.c.ev.push(func() {
		if d.isLeft() {
			return // Leave returned while the change waited its turn
		}
		for _, f := range fns {
			f(ch)
		}
	})
}

func (d *Doc) rejectLocked(r Rejection) {
	r.Doc = d.id
	fns := d.onReject
	global := d.c.opts.OnReject
	d.c.log.Info("syncd client: edit refused", "doc", d.id, "reqId", r.ReqID, "code", r.Code, "message", r.Message)
	d.c.ev.push(func() {
		for _, f := range fns {
			f(r)
		}
		if global != nil {
			global(r)
		}
	})
}

// recomputeLocked rebuilds the view: the confirmed state with every
// pending edit applied in order. An edit that no longer applies is left
// out of the view but stays pending: the server will refuse it, and the
// refusal removes it (PROTOCOL.md §9.5).
func (d *Doc) recomputeLocked() {
	v := delta.Clone(d.confirmed)
	for _, e := range d.pending {
		_, _ = e.patch.Apply(&v)
	}
	d.view = v
}

// WaitFor blocks until cond, called under the client's lock with the
// document, returns true, or ctx ends, or the client stops.
func (d *Doc) waitFor(ctx context.Context, cond func() bool) error {
	for {
		d.c.mu.Lock()
		ok := cond()
		ch := d.changed
		stopped := d.c.err
		refused := d.rejoinErr
		d.c.mu.Unlock()
		if ok {
			return nil
		}
		if stopped != nil {
			return stopped
		}
		if refused != nil {
			return refused
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Settled waits until every pending edit has been decided (acknowledged,
// or refused and rolled back) and the document is live. After a reconnect
// whose JOIN of the document the server refused for good (a token that no
// longer allows it, say), it returns that refusal: the edits stay pending,
// and the next connection tries the JOIN again.
func (d *Doc) Settled(ctx context.Context) error {
	return d.waitFor(ctx, func() bool { return d.live && len(d.pending) == 0 })
}

// WaitRev waits until the confirmed revision is at least rev.
func (d *Doc) WaitRev(ctx context.Context, rev revision.Rev) error {
	return d.waitFor(ctx, func() bool { return d.rev >= rev })
}

// Leave leaves the document: no more changes arrive, pending edits are
// forgotten. The handle stays readable.
func (d *Doc) Leave() {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.left {
		return
	}
	d.left = true
	if c.docs[d.id] == d {
		delete(c.docs, d.id)
	}
	if d.live || d.joinCorr != "" {
		// Joined, or its JOIN is on its way: the server would keep it.
		c.sendLocked(protocol.TypeLeave, "", protocol.Leave{Doc: d.id})
	}
	if d.joinCorr != "" {
		delete(c.joins, d.joinCorr)
		d.joinCorr = ""
	}
	d.live = false
	d.notifyLocked()
}

// --- receiving

// snapshotLocked applies a SYNC.SNAPSHOT: a JOIN's catch-up answer
// (catchUp) or an unprompted new epoch.
func (d *Doc) snapshotLocked(p *protocol.SyncSnapshot, catchUp bool) {
	state, err := delta.Decode(p.State)
	if err != nil {
		d.c.log.Error("syncd client: bad snapshot", "doc", d.id, "err", err)
		return
	}
	epochChanged := d.hasPos && p.Epoch != d.epoch
	d.confirmed, d.epoch, d.rev, d.hasPos = state, p.Epoch, p.Rev, true
	switch {
	case epochChanged:
		// Every pending edit belongs to a history that is gone (§6.8
		// step 6); watermarks of the old history mean nothing now, and
		// neither do the revisions retried edits wait for.
		for _, e := range d.pending {
			e.waitRev = 0
		}
		d.settleLocked("", nil, true, true)
	case catchUp:
		d.settleLocked(p.AckedReqID, p.Outcomes, true, false)
	default:
		// An unprompted re-synchronisation of the same history on the same
		// connection (§6.4): edits in flight are still answered as usual.
	}
	if catchUp {
		d.becomeLiveLocked()
	}
	d.recomputeLocked()
	d.emitLocked(Change{Kind: ChangeSnapshot})
	d.flushLocked()
}

// deltasLocked applies a SYNC.DELTAS.
func (d *Doc) deltasLocked(p *protocol.SyncDeltas, catchUp bool) {
	if !catchUp && !d.live {
		// Sent before the catch-up of our (re-)JOIN: the catch-up covers it.
		return
	}
	if p.Epoch != d.epoch || p.FromRev > d.rev {
		d.c.log.Warn("syncd client: out of step, re-joining", "doc", d.id, "epoch", p.Epoch, "fromRev", p.FromRev, "rev", d.rev)
		d.sendJoinLocked()
		return
	}
	// Others' operations are reported as ChangeRemote, this client's as one
	// ChangeAck each, in revision order.
	var applied []json.RawMessage
	var events []Change
	for i := range p.Operations {
		op := &p.Operations[i]
		if op.Rev <= d.rev {
			continue // a duplicate (§6.4)
		}
		if op.First() != d.rev+1 {
			// A gap, or a combined operation (a compacted catch-up,
			// §5.3) that starts before our revision: part of it is
			// applied already and the rest cannot be separated.
			d.c.log.Warn("syncd client: operations do not continue our revision, re-joining", "doc", d.id, "firstRev", op.First(), "rev", op.Rev, "have", d.rev)
			d.sendJoinLocked()
			return
		}
		var patch *delta.Patch
		var err error
		if op.Type == protocol.OpMerge {
			patch, err = delta.ParseMergePatch(op.Payload)
		} else {
			patch, err = delta.ParseJSONPatch(op.Payload)
		}
		if err == nil {
			_, err = patch.Apply(&d.confirmed)
		}
		if err != nil {
			// The server applied it, so this is a bug or a corrupted
			// copy: start over from a snapshot.
			d.c.log.Error("syncd client: operation does not apply, re-joining", "doc", d.id, "rev", op.Rev, "err", err)
			d.hasPos = false
			d.sendJoinLocked()
			return
		}
		if op.ClientID == d.c.authorID && op.ClientReqID != "" && d.ackLocked(op.ClientReqID) {
			if len(applied) > 0 {
				events = append(events, Change{Kind: ChangeRemote, Patches: applied, Rev: d.rev})
				applied = nil
			}
			events = append(events, Change{Kind: ChangeAck, Local: true, ReqID: op.ClientReqID, Patches: []json.RawMessage{op.Payload}, Rev: op.Rev})
		} else {
			applied = append(applied, op.Payload)
		}
		d.rev = op.Rev
	}
	if len(applied) > 0 || (catchUp && len(events) == 0) {
		events = append(events, Change{Kind: ChangeRemote, Patches: applied, Rev: d.rev})
	}
	d.recomputeLocked()
	for _, ch := range events {
		d.emitLocked(ch)
	}
	if catchUp {
		d.settleLocked(p.AckedReqID, p.Outcomes, false, false)
		d.becomeLiveLocked()
		d.recomputeLocked()
	}
	d.flushLocked()
}

// ackLocked removes the acknowledged edit id from the queue; false if it
// was not there (an echo seen before, or an edit of an earlier run of this
// client id).
func (d *Doc) ackLocked(id string) bool {
	for i, e := range d.pending {
		if e.id == id {
			d.rememberOwnLocked(e)
			d.pending = append(d.pending[:i:i], d.pending[i+1:]...)
			return true
		}
	}
	return false
}

func (d *Doc) becomeLiveLocked() {
	d.live = true
	defer d.c.checkEstablishedLocked()
	if d.myPresence != nil && !bytes.Equal(d.myPresence, d.joinPresence) {
		// SetPresence ran while the JOIN was on its way, with an older
		// value: it returned nil counting on the JOIN, so send it now.
		d.c.sendLocked(protocol.TypePresenceSet, "", protocol.PresenceSet{Doc: d.id, State: d.myPresence})
	}
	d.joinRetries = 0
	delete(d.c.joins, d.joinCorr)
	d.joinCorr = ""
	select {
	case <-d.joined:
	default:
		close(d.joined)
	}
}

// settleLocked decides the pending edits after a catch-up (PROTOCOL.md
// §6.8). w is the answer's ackedReqId and outs its outcomes; snapshot says
// the answer could not show which edits committed; unknown says every sent
// edit's outcome is unknown (a new epoch).
func (d *Doc) settleLocked(w string, outs []protocol.Outcome, snapshot, unknown bool) {
	outcome := make(map[string]protocol.Outcome, len(outs))
	oldest := "" // outcomes are consecutive decisions: an id above the oldest and not among them was never decided
	for _, o := range outs {
		outcome[o.ClientReqID] = o
		if oldest == "" || revision.CompareReqID(o.ClientReqID, oldest) < 0 {
			oldest = o.ClientReqID
		}
	}
	var keep, reissue, refused []*edit
	for _, e := range d.pending {
		o, known := outcome[e.id]
		switch {
		case !e.sent && !e.resent:
			keep = append(keep, e) // never seen by the server: send as it is
		case !unknown && (w == "" || revision.CompareReqID(e.id, w) > 0):
			// Never decided: resend as it is, same id, baseRev and epoch.
			e.sent, e.resent = false, true
			keep = append(keep, e)
			d.resendAsIs(e)
		case !unknown && known && o.Committed():
			// Committed, its operation in the state (a snapshot) or
			// already applied: acknowledged.
			d.rememberOwnLocked(e)
			d.emitLocked(Change{Kind: ChangeAck, Local: true, ReqID: e.id, Patches: []json.RawMessage{e.raw}, Rev: o.Rev})
		case !unknown && known:
			// Refused; the ERROR was lost with the connection.
			keep = append(keep, e)
			refused = append(refused, e)
		case !unknown && oldest != "" && revision.CompareReqID(e.id, oldest) > 0:
			// Skipped over: never decided (the flood guard dropped it, say),
			// so never applied.
			reissue = append(reissue, e)
		case !snapshot:
			// Decided and not seen committed: refused, the refusal lost
			// (and older than the outcomes the server keeps).
			reissue = append(reissue, e)
		case d.c.opts.ReissueUnknown(d.id, e.raw, e.merge):
			reissue = append(reissue, e)
		default:
			d.rejectLocked(Rejection{ReqID: e.id, Code: CodeOutcomeUnknown, Message: "the connection was lost and the server answered with a snapshot: the edit may or may not have been applied", Patch: e.raw})
		}
	}
	d.pending = append(keep, reissue...) // what supersede looks at
	var again []*edit
	for _, e := range reissue {
		if d.supersedeLocked(e) {
			again = append(again, e)
		}
	}
	for _, e := range again {
		e.id = d.c.newReqID()
		e.sent, e.resent = false, false
	}
	d.pending = append(keep, again...)
	for _, e := range refused {
		o := outcome[e.id]
		d.refusedLocked(e.id, &protocol.ErrorPayload{Code: o.Code, Message: "refused while the connection was lost (from the JOIN answer's outcomes)"})
	}
}

// resendAsIs marks an edit to be sent again with its old baseRev and
// epoch (flushLocked would otherwise give it the current ones).
func (d *Doc) resendAsIs(e *edit) { e.waitRev = 0; e.sent = false; e.keepBase = true }
