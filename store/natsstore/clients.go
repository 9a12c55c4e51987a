package natsstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
)

// maxClaimAttempts bounds ClaimClient's compare-and-set loop. Every lost
// round means another claim of the same client id was written, so the
// loop ends quickly unless hundreds of connection attempts race.
const maxClaimAttempts = 64

// ClaimClient implements [syncd.Store.ClaimClient]. A client's record is
// the last message on its own subject of the stream (Prefix.client.<id>),
// read from the stream leader and replaced by a publish conditional on
// that message's sequence, with a rollup so that only the newest stays:
// what a KV bucket's Get and Update do, but with the reads from the leader
// (a KV bucket's Get reads from any replica; doc.go). A lost race reads
// the record again and decides again.
func (s *Store) ClaimClient(ctx context.Context, claim syncd.ClientClaim) (syncd.ClientRecord, error) {
	if err := s.checkOpen(ctx); err != nil {
		return syncd.ClientRecord{}, err
	}
	if err := claim.Validate(); err != nil {
		return syncd.ClientRecord{}, err
	}
	subj, err := s.names.client(claim.ClientID)
	if err != nil {
		return syncd.ClientRecord{}, err
	}
	for attempt := 0; attempt < maxClaimAttempts; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return syncd.ClientRecord{}, ctx.Err()
			case <-time.After(time.Duration(1+rand.IntN(4*attempt)) * time.Millisecond):
			}
		}
		m, err := s.getLast(ctx, subj)
		if err != nil {
			return syncd.ClientRecord{}, err
		}
		var rec syncd.ClientRecord
		var seq uint64
		if m != nil {
			if rec, err = decodeClient(m.Data); err != nil {
				return syncd.ClientRecord{}, fmt.Errorf("natsstore: client record %q: %w", claim.ClientID, err)
			}
			seq = m.Sequence
		}
		next, err := rec.Check(claim)
		if err != nil || next == rec {
			return next, err
		}
		nonce := s.nextNonce()
		h := nats.Header{}
		h.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(seq, 10))
		h.Set(jetstream.MsgIDHeader, "w:"+nonce)
		h.Set(hdrWriter, nonce)
		h.Set(hdrRollup, jetstream.MsgRollupSubject)
		_, err = s.publishResolved(ctx, claim.ClientID, subj, &nats.Msg{Subject: subj, Header: h, Data: encodeClient(next)}, seq, nonce)
		if errors.Is(err, syncd.ErrConflict) {
			continue
		}
		if err != nil {
			return syncd.ClientRecord{}, err
		}
		return next, nil
	}
	return syncd.ClientRecord{}, unavailable(fmt.Sprintf("claim of client %q", claim.ClientID), errors.New("too many concurrent claims"))
}

func encodeClient(r syncd.ClientRecord) []byte {
	e := encoder{b: []byte{frameVersion}}
	e.str(r.Owner)
	e.str(r.Attempt)
	return e.b
}

func decodeClient(b []byte) (syncd.ClientRecord, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != frameVersion {
		return syncd.ClientRecord{}, fmt.Errorf("client record of version %d, want %d", v, frameVersion)
	}
	r := syncd.ClientRecord{Owner: d.str(), Attempt: d.str()}
	return r, d.err
}
