package natsstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// storeSnapshot writes p's snapshot to doc's snapshot subject, unless the
// subject already holds a newer one, and then applies retention. st is the
// state before the commit's log message, which (if any) was stored at seq.
func (s *Store) storeSnapshot(ctx context.Context, doc string, st *docState, p *plan, seq uint64) error {
	subj, err := s.names.snap(doc)
	if err != nil {
		return err
	}
	sr := p.snap
	epochSeq := st.epochSeq
	if p.snapCreated {
		epochSeq = seq
	}
	for attempt := 0; attempt < 5; attempt++ {
		cur, curSeq, err := s.lastSnapshot(ctx, doc)
		if err != nil {
			return err
		}
		if cur != nil && (cur.epochSeq > epochSeq || cur.epochSeq == epochSeq && cur.rev >= sr.Rev) {
			return nil // the newest snapshot is kept, whoever wrote it
		}
		sn := &snapshot{epoch: sr.Epoch, epochSeq: epochSeq, rev: sr.Rev, state: sr.State}
		if sn.state == nil {
			sn.state = []byte{}
		}
		switch {
		case p.snapCreated:
			// The epoch starts in this commit's message: nothing before it.
			sn.fromSeq = seq
		case sr.Rev >= st.head:
			// Every operation after Rev is in this commit's message or
			// later, and st holds the watermarks of everything before.
			sn.fromSeq, sn.clients = seq, st.clients
			if seq == 0 {
				sn.fromSeq = st.lastSeq + 1
			}
		default:
			// An older revision: find where the log passes it.
			if sn.fromSeq, sn.clients, err = s.stateAt(ctx, doc, epochSeq, sr.Rev); err != nil {
				return err
			}
		}
		sn.clients = s.withinHorizon(sn.clients)
		nonce := s.nextNonce()
		h := nats.Header{}
		h.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(curSeq, 10))
		h.Set(jetstream.MsgIDHeader, "w:"+nonce)
		h.Set(hdrWriter, nonce)
		h.Set(hdrEpoch, string(sn.epoch))
		h.Set(hdrHead, strconv.FormatUint(uint64(sn.rev), 10))
		// Only the newest snapshot stays: the rollup removes the older
		// ones with the same write.
		h.Set(hdrRollup, jetstream.MsgRollupSubject)
		m := &nats.Msg{Subject: subj, Header: h, Data: encodeSnapshot(sn)}
		_, err = s.publishResolved(ctx, doc, subj, m, curSeq, nonce)
		if errors.Is(err, syncd.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		head := st.head
		if p.final.exists && p.final.epoch == sn.epoch {
			head = p.final.head
		}
		s.retain(ctx, doc, sn, head)
		return nil
	}
	return fmt.Errorf("natsstore: snapshot of %q: other writers kept replacing the snapshot", doc)
}

// withinHorizon leaves out the clients whose last decision is older than
// the horizon.
func (s *Store) withinHorizon(clients map[string]*client) map[string]*client {
	if s.opts.Horizon < 0 {
		return clients
	}
	oldest := time.Now().Add(-s.opts.Horizon).UnixMilli()
	var out map[string]*client
	for id, c := range clients {
		if c.at >= oldest {
			if out == nil {
				out = make(map[string]*client, len(clients))
			}
			out[id] = c
		}
	}
	return out
}

// stateAt returns the first message of doc's epoch that holds an
// operation after rev, and the watermarks of every message before it.
func (s *Store) stateAt(ctx context.Context, doc string, epochSeq uint64, rev revision.Rev) (uint64, map[string]*client, error) {
	subj, err := s.names.log(doc)
	if err != nil {
		return 0, nil, err
	}
	sn, _, err := s.lastSnapshot(ctx, doc)
	if err != nil {
		return 0, nil, err
	}
	st := &docState{exists: true}
	start := epochSeq
	if sn != nil && sn.epochSeq == epochSeq && sn.rev <= rev && sn.fromSeq >= epochSeq {
		start, st.clients = sn.fromSeq, maps.Clone(sn.clients)
	}
	last, err := s.lastLog(ctx, doc)
	if err != nil {
		return 0, nil, err
	}
	if last == nil || last.deleted || last.epochSeq != epochSeq {
		return 0, nil, errRace
	}
	var prev, at uint64
	err = s.readLog(ctx, doc, subj, start, last.seq, func(lm *logMsg) (bool, error) {
		if lm.epochSeq != epochSeq || prev != 0 && lm.prev != prev {
			return false, errRace
		}
		if lm.head > rev {
			at = lm.seq
			return false, nil
		}
		recs, err := decodeLog(doc, lm.data)
		if err != nil {
			return false, err
		}
		st.applyRecords(recs, lm.seq, lm.time.UnixMilli())
		prev = lm.seq
		return true, nil
	})
	if err != nil {
		return 0, nil, err
	}
	if at == 0 {
		return 0, nil, errRace
	}
	return at, st.clients, nil
}

// retain purges doc's log up to what snapshot sn covers, keeping at least
// RetainOps operations, once the log holds a sixteenth more than that (so
// that a purge is one request per RetainOps/16 operations, not one per
// append). Best effort: a failed purge is tried again after the next
// snapshot.
func (s *Store) retain(ctx context.Context, doc string, sn *snapshot, head revision.Rev) {
	keep := s.opts.RetainOps
	if keep < 0 {
		return
	}
	subj, err := s.names.log(doc)
	if err != nil {
		return
	}
	first, err := s.firstRev(ctx, doc, subj, sn.epochSeq)
	if err != nil || uint64(head-first)+1 <= uint64(keep+keep/16) || head < first {
		return
	}
	start := min(head-revision.Rev(keep)+1, sn.rev+1)
	if start <= first {
		return
	}
	last, err := s.lastLog(ctx, doc)
	if err != nil || last == nil || last.deleted || last.epochSeq != sn.epochSeq {
		return
	}
	from, err := s.findRev(ctx, doc, subj, last, start)
	if err != nil {
		return
	}
	// Never past the snapshot's first message: the rebuild reads from it.
	below := min(from.seq, sn.fromSeq)
	rctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	_ = s.stream.Purge(rctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(below))
}
