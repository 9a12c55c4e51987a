package natsstore

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

func (s *Store) lastLog(ctx context.Context, doc string) (*logMsg, error) {
	subj, err := s.names.log(doc)
	if err != nil {
		return nil, err
	}
	m, err := s.getLast(ctx, subj)
	if m == nil || err != nil {
		return nil, err
	}
	return parseLogMsg(doc, m)
}

func (s *Store) nextLog(ctx context.Context, doc, subj string, seq uint64) (*logMsg, error) {
	m, err := s.getNext(ctx, subj, seq)
	if m == nil || err != nil {
		return nil, err
	}
	return parseLogMsg(doc, m)
}

// lastSnapshot returns doc's snapshot message and its sequence, or nil.
func (s *Store) lastSnapshot(ctx context.Context, doc string) (*snapshot, uint64, error) {
	subj, err := s.names.snap(doc)
	if err != nil {
		return nil, 0, err
	}
	m, err := s.getLast(ctx, subj)
	if m == nil || err != nil {
		return nil, 0, err
	}
	sn, err := decodeSnapshot(m.Data)
	if err != nil {
		return nil, 0, fmt.Errorf("natsstore: snapshot of %q at %d: %w", doc, m.Sequence, err)
	}
	return sn, m.Sequence, nil
}

// loaded is a document read from the log: its state, newest snapshot and
// the operations after it.
type loaded struct {
	st        *docState
	snapRev   revision.Rev
	snapState []byte
	tail      []*syncd.Op
	first     revision.Rev
}

// errRace: what was read changed while it was read (a purge or a new epoch
// between two reads); the read starts again.
// It is transient: a caller that gets it after the retries may try again.
var errRace = fmt.Errorf("natsstore: the log kept changing while it was read: %w", syncd.ErrUnavailable)

// rebuild reads doc from the log: the newest snapshot of its epoch, and
// every message from the one the snapshot names (or from the epoch's first
// message, without one). It caches the state it reads.
func (s *Store) rebuild(ctx context.Context, doc string, keepOps bool) (*loaded, error) {
	for attempt := 0; ; attempt++ {
		ld, err := s.rebuildOnce(ctx, doc, keepOps)
		if errors.Is(err, errRace) && attempt < 8 {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.cache.put(doc, ld.st)
		return ld, nil
	}
}

func (s *Store) rebuildOnce(ctx context.Context, doc string, keepOps bool) (*loaded, error) {
	subj, last, err := s.logAndLast(ctx, doc)
	if err != nil {
		return nil, err
	}
	if last == nil {
		return &loaded{st: &docState{}}, nil
	}
	if last.deleted {
		return &loaded{st: &docState{lastSeq: last.seq}}, nil
	}
	sn, _, err := s.lastSnapshot(ctx, doc)
	if err != nil {
		return nil, err
	}
	ld := &loaded{first: 1}
	st := &docState{exists: true, epoch: last.epoch, epochSeq: last.epochSeq}
	start := last.epochSeq
	withSnap := sn != nil && sn.epochSeq == last.epochSeq && sn.epoch == last.epoch && sn.rev <= last.head && sn.fromSeq >= last.epochSeq
	if withSnap {
		start = sn.fromSeq
		ld.snapRev, ld.snapState = sn.rev, sn.state
		st.clients = maps.Clone(sn.clients)
		st.head = sn.rev
	}
	var read *logMsg
	st.lastSeq = last.seq
	err = s.readLog(ctx, doc, subj, start, last.seq, func(lm *logMsg) (bool, error) {
		switch {
		case read == nil && !withSnap:
			// Without a snapshot nothing of the epoch was purged: the
			// first message is the epoch's.
			if lm.seq != last.epochSeq {
				return false, errRace
			}
		case read == nil:
			// Nothing between the snapshot's start and lm was lost (or
			// lm is the epoch's first message).
			if lm.seq != last.epochSeq && (lm.resets || lm.prev >= start) {
				return false, errRace
			}
		case lm.resets || lm.prev != read.seq:
			return false, errRace
		}
		recs, err := decodeLog(doc, lm.data)
		if err != nil {
			return false, err
		}
		ops := st.applyRecords(recs, lm.seq, lm.time.UnixMilli())
		if keepOps {
			for _, op := range ops {
				if op.Rev > ld.snapRev {
					ld.tail = append(ld.tail, op)
				}
			}
		}
		read = lm
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case read == nil && withSnap && last.seq < start:
		// No message after the snapshot's: the snapshot is the head.
		read = last
	case read == nil || read.seq < last.seq:
		return nil, errRace
	}
	if read.deleted {
		return &loaded{st: &docState{lastSeq: read.seq}}, nil
	}
	if !st.exists || st.epoch != read.epoch || st.head != read.head {
		return nil, fmt.Errorf("natsstore: the log of %q replays to %s@%d, its last message says %s@%d", doc, st.epoch, st.head, read.epoch, read.head)
	}
	st.created, st.updated = read.created, read.updated
	ld.st = st
	if keepOps && withSnap {
		if ld.first, err = s.firstRev(ctx, doc, subj, st.epochSeq); err != nil {
			return nil, err
		}
		if ld.first > ld.snapRev+1 {
			// Purged past this snapshot: a newer one was written
			// meanwhile.
			return nil, errRace
		}
	}
	return ld, nil
}

// firstRev is the oldest revision doc's log still holds (its head+1 when
// it holds none): the first message of the epoch still there starts after
// its base.
func (s *Store) firstRev(ctx context.Context, doc, subj string, epochSeq uint64) (revision.Rev, error) {
	m0, err := s.nextLog(ctx, doc, subj, epochSeq)
	if err != nil {
		return 0, err
	}
	if m0 == nil || m0.epochSeq != epochSeq {
		return 0, errRace
	}
	if m0.seq == epochSeq {
		return 1, nil
	}
	return m0.base + 1, nil
}

func (s *Store) rebuildState(ctx context.Context, doc string) (*docState, error) {
	ld, err := s.rebuild(ctx, doc, false)
	if err != nil {
		return nil, err
	}
	return ld.st, nil
}

// readLog calls fn with each of doc's log messages from sequence from to
// to, in order, until fn returns false (see readRange).
func (s *Store) readLog(ctx context.Context, doc, subj string, from, to uint64, fn func(*logMsg) (bool, error)) error {
	return s.readRange(ctx, subj, from, to, func(m *jetstream.RawStreamMsg) (bool, error) {
		lm, err := parseLogMsg(doc, m)
		if err != nil {
			return false, err
		}
		return fn(lm)
	})
}

// current returns doc's state as the log holds it now: the cached state
// caught up with the messages after it, or a rebuild.
func (s *Store) current(ctx context.Context, doc string) (*docState, error) {
	st := s.cache.get(doc)
	if st == nil {
		return s.rebuildState(ctx, doc)
	}
	subj, last, err := s.logAndLast(ctx, doc)
	if err != nil {
		return nil, err
	}
	if last == nil && st.lastSeq == 0 || last != nil && last.seq == st.lastSeq {
		return st, nil
	}
	if last == nil || last.seq < st.lastSeq {
		return s.rebuildState(ctx, doc) // purged or rolled up: read anew
	}
	if last.resets || last.prev == st.lastSeq {
		// The last message is the only one after the cached state (or
		// starts the document afresh): the leader's answer holds all
		// there is to apply, so no range read (which would fetch it
		// again). The common case: one other writer's append.
		next := st.clone()
		if err := next.applyMsg(doc, last); err != nil {
			return nil, err
		}
		s.cache.put(doc, next)
		return next, nil
	}
	var next *docState
	gap := false
	err = s.readLog(ctx, doc, subj, st.lastSeq+1, last.seq, func(lm *logMsg) (bool, error) {
		if !lm.resets && lm.prev != st.lastSeq {
			gap = true // messages after the cached state were purged
			return false, nil
		}
		if next == nil {
			next = st.clone()
		}
		if err := next.applyMsg(doc, lm); err != nil {
			return false, err
		}
		st = next
		return true, nil
	})
	if errors.Is(err, errRace) || gap {
		return s.rebuildState(ctx, doc)
	}
	if err != nil {
		return nil, err
	}
	if next != nil {
		s.cache.put(doc, next)
	}
	return st, nil
}

// applyMsg applies lm, the log message after st's (or one that resets
// the document), to st, a state the caller owns.
func (st *docState) applyMsg(doc string, lm *logMsg) error {
	recs, err := decodeLog(doc, lm.data)
	if err != nil {
		return err
	}
	if lm.resets {
		*st = docState{}
	}
	st.applyRecords(recs, lm.seq, lm.time.UnixMilli())
	st.created, st.updated = lm.created, lm.updated
	return nil
}

// Load implements [syncd.Store.Load].
func (s *Store) Load(ctx context.Context, doc string) (*syncd.StoredDoc, error) {
	if err := s.checkOpen(ctx); err != nil {
		return nil, err
	}
	ld, err := s.rebuild(ctx, doc, true)
	if err != nil {
		return nil, err
	}
	if !ld.st.exists {
		return nil, fmt.Errorf("natsstore: load %q: %w", doc, syncd.ErrNotFound)
	}
	st := ld.st
	return &syncd.StoredDoc{
		Meta:          syncd.DocMeta{Doc: doc, Epoch: st.epoch, Head: st.head, First: ld.first, Created: st.created, Updated: st.updated},
		SnapshotRev:   ld.snapRev,
		SnapshotState: ld.snapState,
		Tail:          ld.tail,
	}, nil
}

// Head implements [syncd.SharedStore.Head]: the last message of doc's log,
// read from the stream leader.
func (s *Store) Head(ctx context.Context, doc string) (revision.Epoch, revision.Rev, error) {
	if err := s.checkOpen(ctx); err != nil {
		return "", 0, err
	}
	last, err := s.lastLog(ctx, doc)
	if err != nil {
		return "", 0, err
	}
	if last == nil || last.deleted {
		return "", 0, fmt.Errorf("natsstore: head of %q: %w", doc, syncd.ErrNotFound)
	}
	return last.epoch, last.head, nil
}

// Watermark implements [syncd.Store.Watermark].
func (s *Store) Watermark(ctx context.Context, doc, clientID string) (revision.Watermark, error) {
	if err := s.checkOpen(ctx); err != nil {
		return revision.Watermark{}, err
	}
	st, err := s.current(ctx, doc)
	if err != nil {
		return revision.Watermark{}, err
	}
	if c := st.clients[clientID]; c != nil {
		return c.mark, nil
	}
	return revision.Watermark{}, nil
}

// Outcomes implements [syncd.Store.Outcomes].
func (s *Store) Outcomes(ctx context.Context, doc, clientID string) ([]revision.Outcome, error) {
	if err := s.checkOpen(ctx); err != nil {
		return nil, err
	}
	st, err := s.current(ctx, doc)
	if err != nil {
		return nil, err
	}
	if c := st.clients[clientID]; c != nil {
		return append([]revision.Outcome(nil), c.outcomes...), nil
	}
	return nil, nil
}

// ReadOps implements [syncd.Store.ReadOps]: it finds the message holding
// revision after+1 by a binary search over the stream sequences of the
// document's messages (their Syncd-Head headers grow along the log), then
// reads forward.
func (s *Store) ReadOps(ctx context.Context, doc string, epoch revision.Epoch, after revision.Rev, limit int) ([]*syncd.Op, error) {
	if limit < 0 {
		return nil, fmt.Errorf("natsstore: read ops of %q: limit %d, want >= 0", doc, limit)
	}
	if err := s.checkOpen(ctx); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		ops, err := s.readOpsOnce(ctx, doc, epoch, after, limit)
		if errors.Is(err, errRace) && attempt < 8 {
			continue
		}
		return ops, err
	}
}

func (s *Store) readOpsOnce(ctx context.Context, doc string, epoch revision.Epoch, after revision.Rev, limit int) ([]*syncd.Op, error) {
	subj, last, err := s.logAndLast(ctx, doc)
	if err != nil {
		return nil, err
	}
	if last == nil || last.deleted || last.epoch != epoch {
		return nil, fmt.Errorf("natsstore: read ops of %q@%s: %w", doc, epoch, syncd.ErrNotFound)
	}
	if after >= last.head {
		return nil, nil
	}
	first, err := s.firstRev(ctx, doc, subj, last.epochSeq)
	if err != nil {
		return nil, err
	}
	if after+1 < first {
		return nil, fmt.Errorf("natsstore: read ops of %q after %d: oldest kept is %d: %w", doc, after, first, syncd.ErrGone)
	}
	if limit == 0 {
		return nil, nil
	}
	from, err := s.findRev(ctx, doc, subj, last, after+1)
	if err != nil {
		return nil, err
	}
	var out []*syncd.Op
	err = s.readLog(ctx, doc, subj, from.seq, last.seq, func(lm *logMsg) (bool, error) {
		if lm.epochSeq != last.epochSeq || lm.deleted {
			return false, errRace
		}
		recs, err := decodeLog(doc, lm.data)
		if err != nil {
			return false, err
		}
		for _, r := range finalEpoch(recs) {
			if r.kind == recAppend && r.op.Rev > after && len(out) < limit {
				out = append(out, r.op)
			}
		}
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, err
	}
	for i, op := range out {
		if op.Rev != after+1+revision.Rev(i) {
			return nil, errRace
		}
	}
	return out, nil
}

// findRev returns the first message of last's epoch whose head is at
// least rev: the one holding rev. last holds it or a later one.
func (s *Store) findRev(ctx context.Context, doc, subj string, last *logMsg, rev revision.Rev) (*logMsg, error) {
	if last.base < rev || last.seq == last.epochSeq {
		return last, nil
	}
	ans := last
	lo, hi := last.epochSeq, last.seq-1
	for lo <= hi {
		mid := lo + (hi-lo)/2
		m, err := s.nextLog(ctx, doc, subj, mid)
		if err != nil {
			return nil, err
		}
		switch {
		case m == nil || m.seq > hi:
			hi = mid - 1
		case m.epochSeq != last.epochSeq:
			return nil, errRace
		case m.head >= rev:
			ans, hi = m, mid-1
		default:
			lo = m.seq + 1
		}
		if mid == 0 {
			break
		}
	}
	return ans, nil
}

// logAndLast returns doc's log subject and its last message as the leader
// holds it now (nil for an empty log): where every read of the log starts.
func (s *Store) logAndLast(ctx context.Context, doc string) (string, *logMsg, error) {
	subj, err := s.names.log(doc)
	if err != nil {
		return "", nil, err
	}
	last, err := s.lastLog(ctx, doc)
	return subj, last, err
}
