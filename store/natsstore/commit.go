package natsstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// maxInFlight bounds the documents of one Commit published at once.
const maxInFlight = 256

// errMalformed marks records the contract does not allow; they fail the
// batch without being conflicts.
var errMalformed = errors.New("malformed record")

// Commit implements [syncd.Store.Commit] as a [syncd.SharedStore] does:
// atomic per document. Each document's records become one log message,
// published on the condition that the document's log still ends where this
// store last saw it; the documents of a batch are published concurrently.
func (s *Store) Commit(ctx context.Context, batch []syncd.Record) error {
	if err := s.checkOpen(ctx); err != nil {
		return err
	}
	type group struct {
		doc  string
		recs []syncd.Record
	}
	var groups []*group
	byDoc := make(map[string]*group)
	for i, rec := range batch {
		doc, err := checkRecord(rec)
		if err != nil {
			return fmt.Errorf("natsstore: commit record %d of %d: %w", i, len(batch), err)
		}
		g := byDoc[doc]
		if g == nil {
			g = &group{doc: doc}
			byDoc[doc] = g
			groups = append(groups, g)
		}
		g.recs = append(g.recs, rec)
	}
	errs := make([]error, len(groups))
	if len(groups) == 1 {
		errs[0] = s.commitDoc(ctx, groups[0].doc, groups[0].recs)
	} else {
		sem := make(chan struct{}, maxInFlight)
		var wg sync.WaitGroup
		for i, g := range groups {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				errs[i] = s.commitDoc(ctx, g.doc, g.recs)
			})
		}
		wg.Wait()
	}
	var failed map[string]error
	for i, err := range errs {
		if err != nil {
			if failed == nil {
				failed = make(map[string]error)
			}
			failed[groups[i].doc] = err
		}
	}
	if failed != nil {
		return &syncd.PartialCommitError{Failed: failed}
	}
	return nil
}

// checkRecord checks what can be checked without the stored state and
// returns the record's document.
func checkRecord(rec syncd.Record) (string, error) {
	if err := rec.Check(); err != nil {
		return "", fmt.Errorf("%w: %w", errMalformed, err)
	}
	var doc string
	switch {
	case rec.Create != nil:
		if rec.Create.Epoch == "" {
			return "", fmt.Errorf("%w: create of %q without an epoch", errMalformed, rec.Create.Doc)
		}
		doc = rec.Create.Doc
	case rec.Append != nil:
		if rec.Append.Op == nil {
			return "", fmt.Errorf("%w: append to %q without an op", errMalformed, rec.Append.Doc)
		}
		doc = rec.Append.Doc
	case rec.Decide != nil:
		if rec.Decide.ClientID == "" || rec.Decide.ReqID == "" {
			return "", fmt.Errorf("%w: decide in %q needs a client id and a request id", errMalformed, rec.Decide.Doc)
		}
		doc = rec.Decide.Doc
	case rec.Snapshot != nil:
		doc = rec.Snapshot.Doc
	default:
		doc = rec.Delete.Doc
	}
	if doc == "" {
		return "", fmt.Errorf("%w: no document id", errMalformed)
	}
	return doc, nil
}

func conflict(doc, format string, args ...any) error {
	return fmt.Errorf("natsstore: commit %q: %s: %w", doc, fmt.Sprintf(format, args...), syncd.ErrConflict)
}

// plan is one document's records checked against a state: the message to
// write and the state after it.
type plan struct {
	recs  []logRecord
	final *docState
	// resets: the message creates or deletes (a rollup of the subject).
	resets bool
	// createdHere: the final epoch is created by this message.
	createdHere bool
	// requests counts the client requests the message decides; single is
	// the only one when there is exactly one.
	requests       int
	singleClient   string
	singleReq      string
	singleIsAppend bool
	// snap is the newest snapshot of the final epoch, if any; snapCreated
	// says its epoch starts in this message.
	snap        *syncd.SnapshotRecord
	snapCreated bool
	// skipped: a Delete or a Decide found the document absent and was
	// left out as a no-op. Without a message there is no condition for
	// the log to check, so that absence must not come from a stale cache.
	skipped bool
}

// planDoc checks recs against st, in order, as the contract says.
func planDoc(doc string, st *docState, recs []syncd.Record, now int64) (*plan, error) {
	p := &plan{final: st.clone()}
	cur := p.final
	request := func(client, req string, isAppend bool) {
		p.requests++
		p.singleClient, p.singleReq, p.singleIsAppend = client, req, isAppend
	}
	for _, rec := range recs {
		switch {
		case rec.Create != nil:
			c := rec.Create
			if cur.exists {
				return nil, conflict(doc, "create: exists with epoch %s", cur.epoch)
			}
			*cur = docState{exists: true, epoch: c.Epoch, created: c.Time, updated: c.Time}
			p.recs = append(p.recs, logRecord{kind: recCreate, create: c})
			p.resets, p.createdHere, p.snap = true, true, nil
		case rec.Delete != nil:
			if !cur.exists {
				p.skipped = true
				continue
			}
			*cur = docState{}
			p.recs = append(p.recs, logRecord{kind: recDelete})
			p.resets, p.createdHere, p.snap = true, false, nil
		case rec.Append != nil:
			a := rec.Append
			switch {
			case !cur.exists:
				return nil, conflict(doc, "append: no such document")
			case cur.epoch != a.Epoch:
				return nil, conflict(doc, "append: epoch %s, document has %s", a.Epoch, cur.epoch)
			case a.Op.Rev != cur.head+1:
				return nil, conflict(doc, "append: rev %d, head is %d", a.Op.Rev, cur.head)
			}
			if a.Op.ClientID != "" && a.Op.ClientReqID != "" && cur.decided(a.Op.ClientID, a.Op.ClientReqID) {
				return nil, conflict(doc, "append: client %q's request %q is already decided in this epoch", a.Op.ClientID, a.Op.ClientReqID)
			}
			cur.head, cur.updated = a.Op.Rev, a.Op.Time
			if a.Op.ClientID != "" && a.Op.ClientReqID != "" {
				cur.advance(a.Op.ClientID, revision.Outcome{ReqID: a.Op.ClientReqID, Rev: a.Op.Rev}, now)
				request(a.Op.ClientID, a.Op.ClientReqID, true)
			}
			p.recs = append(p.recs, logRecord{kind: recAppend, op: a.Op})
		case rec.Decide != nil:
			if !cur.exists {
				p.skipped = true
				continue
			}
			d := rec.Decide
			if cur.decided(d.ClientID, d.ReqID) {
				// Another writer decided it (or a later request of the
				// client) after this one's engine last read the document:
				// a second decision could contradict the first.
				return nil, conflict(doc, "decide: client %q's request %q is already decided in this epoch", d.ClientID, d.ReqID)
			}
			cur.advance(d.ClientID, revision.Refused(d.ReqID, d.Code), now)
			request(d.ClientID, d.ReqID, false)
			p.recs = append(p.recs, logRecord{kind: recDecide, decide: d})
		default:
			sn := rec.Snapshot
			switch {
			case !cur.exists:
				return nil, conflict(doc, "snapshot: no such document")
			case cur.epoch != sn.Epoch:
				return nil, conflict(doc, "snapshot: epoch %s, document has %s", sn.Epoch, cur.epoch)
			case sn.Rev > cur.head:
				return nil, conflict(doc, "snapshot: rev %d is beyond the head %d", sn.Rev, cur.head)
			}
			if p.snap == nil || sn.Rev >= p.snap.Rev {
				p.snap, p.snapCreated = sn, p.createdHere
			}
		}
	}
	return p, nil
}

// commitDoc commits one document's records: checks them against the state
// this store knows, publishes them as one conditional message, and then
// writes the newest snapshot among them.
func (s *Store) commitDoc(ctx context.Context, doc string, recs []syncd.Record) error {
	subj, err := s.names.log(doc)
	if err != nil {
		return fmt.Errorf("%w: %w", errMalformed, err)
	}
	st := s.cache.get(doc)
	cached := st != nil
	if st == nil {
		ld, err := s.rebuild(ctx, doc, false)
		if err != nil {
			return err
		}
		st = ld.st
	}
	now := time.Now().UnixMilli()
	p, err := planDoc(doc, st, recs, now)
	if err == nil && cached && len(p.recs) == 0 && (p.skipped || p.snap != nil) {
		// No log message means no condition for the log to check: a
		// Delete or Decide left out because the document is absent, or
		// a Snapshot checked against an existing epoch, must be decided
		// on the log as it is now, not on the cache (another writer may
		// have created or deleted the document since).
		if st, err = s.current(ctx, doc); err != nil {
			return err
		}
		p, err = planDoc(doc, st, recs, now)
	}
	if errors.Is(err, syncd.ErrConflict) {
		// The cached state may be behind the log: check again against
		// the log as it is now, so a stale cache never refuses for ever.
		if st, err = s.current(ctx, doc); err != nil {
			return err
		}
		p, err = planDoc(doc, st, recs, now)
	}
	if err != nil {
		if errors.Is(err, syncd.ErrConflict) {
			s.stats.conflicts.Add(1)
		}
		return err
	}
	var seq uint64
	if len(p.recs) > 0 {
		nonce := s.nextNonce()
		m := s.logMessage(subj, st, p, nonce)
		seq, err = s.publishResolved(ctx, doc, subj, m, st.lastSeq, nonce)
		if err != nil {
			switch {
			case errors.Is(err, syncd.ErrOutcomeUnknown):
				s.stats.unknown.Add(1)
			case !errors.Is(err, syncd.ErrConflict):
				s.stats.failed.Add(1)
			}
			if errors.Is(err, syncd.ErrConflict) {
				s.stats.conflicts.Add(1)
				// Learn what the others wrote, for the engine's retry.
				if _, cerr := s.current(ctx, doc); cerr != nil {
					s.cache.drop(doc)
				}
			}
			return err
		}
		s.stats.appends.Add(1)
		p.final.lastSeq = seq
		if p.createdHere {
			p.final.epochSeq = seq
		}
		s.cache.put(doc, p.final)
	}
	if p.snap != nil {
		if err := s.storeSnapshot(ctx, doc, st, p, seq); err != nil {
			// The log records are durable; a snapshot is a cache of them
			// (doc.go, Snapshots), so its loss fails nothing.
			s.stats.snapshotsLost.Add(1)
		}
	}
	return nil
}

// logMessage builds the message of plan p, appended after st.
func (s *Store) logMessage(subj string, st *docState, p *plan, nonce string) *nats.Msg {
	h := nats.Header{}
	h.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(st.lastSeq, 10))
	h.Set(hdrWriter, nonce)
	f := p.final
	if !f.exists {
		h.Set(hdrDeleted, "1")
	} else {
		var base revision.Rev
		var epochSeq uint64
		if !p.createdHere {
			base, epochSeq = st.head, st.epochSeq
		}
		h.Set(hdrEpoch, string(f.epoch))
		h.Set(hdrHead, strconv.FormatUint(uint64(f.head), 10))
		h.Set(hdrBase, strconv.FormatUint(uint64(base), 10))
		h.Set(hdrEpochSeq, strconv.FormatUint(epochSeq, 10))
		h.Set(hdrCreated, strconv.FormatInt(f.created, 10))
		h.Set(hdrUpdated, strconv.FormatInt(f.updated, 10))
	}
	if p.resets {
		// The message starts the document anew: the rollup removes the
		// earlier epoch's messages in the same step.
		h.Set(hdrRollup, jetstream.MsgRollupSubject)
	}
	msgID := "w:" + nonce
	if p.requests == 1 {
		// A client id may hold any byte; in a header it is encoded like
		// a subject token. Request ids are printable ASCII.
		client, _ := encodeToken(p.singleClient)
		h.Set(hdrClient, client)
		h.Set(hdrReq, p.singleReq)
		if p.singleIsAppend && !p.resets {
			// One client request in a message: its id is the
			// request's, so that the same request stored by another
			// writer within the window is refused as a duplicate.
			msgID = fmt.Sprintf("r:%s:%d:%s:%s", subj, st.epochSeq, client, p.singleReq)
		}
	}
	h.Set(jetstream.MsgIDHeader, msgID)
	return &nats.Msg{Subject: subj, Header: h, Data: encodeLog(p.recs)}
}

// publishResolved publishes m, appended after the subject's message
// expected, and returns its sequence once it knows the message is stored,
// an error wrapping ErrConflict once it knows it is not (another message
// is in its place, or the same client request is already stored), or an
// error wrapping ErrOutcomeUnknown if ctx ends before it knows. A lost or
// late acknowledgement is never taken for an answer: the same message
// (same Nats-Msg-Id) is sent again, and the log is read back.
func (s *Store) publishResolved(ctx context.Context, doc, subj string, m *nats.Msg, expected uint64, nonce string) (uint64, error) {
	sent := false
	var last error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			if sent {
				return 0, fmt.Errorf("natsstore: commit %q: %w (%w; last error: %v)", doc, syncd.ErrOutcomeUnknown, err, last)
			}
			return 0, fmt.Errorf("natsstore: commit %q: %w", doc, err)
		}
		if attempt > 0 {
			s.stats.retries.Add(1)
			wait := min(time.Duration(attempt)*20*time.Millisecond, 500*time.Millisecond)
			select {
			case <-ctx.Done():
				continue
			case <-time.After(wait):
			}
		}
		rctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
		ack, err := s.publish(rctx, &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
		cancel()
		var apiErr *jetstream.APIError
		switch {
		case err == nil && !ack.Duplicate:
			return ack.Sequence, nil
		case err == nil:
			// The id is already stored: by an earlier attempt of ours,
			// or, for a message carrying one request, by another writer.
			sent = true
			s.stats.readBacks.Add(1)
			rm, rerr := s.getSeq(ctx, ack.Sequence)
			if rerr != nil {
				last = rerr
				continue
			}
			if rm != nil && rm.Subject == subj && rm.Header.Get(hdrWriter) == nonce {
				return ack.Sequence, nil
			}
			return 0, conflict(doc, "the log already holds this client request (stored at %d by another writer)", ack.Sequence)
		case errors.Is(err, nats.ErrMaxPayload):
			return 0, fmt.Errorf("natsstore: commit %q: a message of %d bytes: %w", doc, len(m.Data)+headerLen(m.Header), err)
		case errors.As(err, &apiErr) && isWrongLastSeq(apiErr):
			sent = true
			s.stats.readBacks.Add(1)
			// Either another message took the place, or an earlier
			// attempt of ours did: the first message after expected
			// says which.
			next, rerr := s.getNext(ctx, subj, expected+1)
			if rerr != nil {
				last = rerr
				continue
			}
			if next == nil {
				// The leader refused the condition, yet shows nothing
				// after expected: a new leader that has not applied
				// every committed message yet (a purge never removes a
				// subject's last message, and a rollup leaves its own).
				// Not an answer: look again.
				last = fmt.Errorf("natsstore: commit %q: the log moved past %d but shows nothing after it yet", doc, expected)
				continue
			}
			if next.Header.Get(hdrWriter) == nonce {
				return next.Sequence, nil
			}
			return 0, conflict(doc, "the log moved past %d", expected)
		case errors.As(err, &apiErr):
			if !sent {
				// The server refused the only copy sent: not stored.
				if apiErr.Code >= 500 {
					return 0, unavailable(fmt.Sprintf("commit %q", doc), err)
				}
				return 0, fmt.Errorf("natsstore: commit %q: %w", doc, err)
			}
			last = err
			// An earlier attempt may be stored: resolve by the log.
			if seq, known, rerr := s.resolveByLog(ctx, doc, subj, expected, nonce); rerr == nil && known {
				if seq == 0 {
					return 0, conflict(doc, "the log moved past %d", expected)
				}
				return seq, nil
			}
		case errors.Is(err, jetstream.ErrNoStreamResponse) && !sent:
			// No stream took the message (no leader just now).
			return 0, unavailable(fmt.Sprintf("commit %q", doc), err)
		default:
			// A timeout or a lost connection: the message may be
			// stored. Send it again: the retry is answered as a
			// duplicate or a wrong last sequence if the first landed.
			sent = true
			last = err
		}
	}
}

// resolveByLog reads the first message after expected: known is true when
// it decides the outcome (seq is the stored message's sequence, or 0 when
// another writer's message is in the place).
func (s *Store) resolveByLog(ctx context.Context, doc, subj string, expected uint64, nonce string) (seq uint64, known bool, err error) {
	next, err := s.getNext(ctx, subj, expected+1)
	if err != nil || next == nil {
		return 0, false, err
	}
	if next.Header.Get(hdrWriter) == nonce {
		return next.Sequence, true, nil
	}
	return 0, true, nil
}

func isWrongLastSeq(e *jetstream.APIError) bool {
	return e.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || e.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

func headerLen(h nats.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
