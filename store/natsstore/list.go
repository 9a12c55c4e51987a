package natsstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
)

// List implements [syncd.Store.List]. The stream's leader lists the log
// subjects (a stream info request with a subject filter, answered in pages
// of subjects); the ids are decoded and sorted, and each listed document's
// metadata comes from its last message and its first one. A call costs one
// request per ~100,000 documents in the stream plus two reads per document
// returned (doc.go, List): fine for an admin page or a maintenance
// command, not for a hot path.
func (s *Store) List(ctx context.Context, after string, limit int) ([]syncd.DocMeta, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("natsstore: list: limit %d, want > 0", limit)
	}
	if err := s.checkOpen(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 4*s.opts.RequestTimeout)
	info, err := s.stream.Info(rctx, jetstream.WithSubjectFilter(s.names.logAll))
	cancel()
	if err != nil {
		return nil, s.readErr(ctx, "listing documents", err)
	}
	ids := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		id, err := s.names.docOfLog(subj)
		if err != nil {
			return nil, err
		}
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []syncd.DocMeta
	for _, id := range ids {
		if len(out) == limit {
			break
		}
		meta, ok, err := s.meta(ctx, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, meta)
		}
	}
	return out, nil
}

// meta reads a document's metadata from its last and first messages; ok is
// false for a deleted document.
func (s *Store) meta(ctx context.Context, doc string) (syncd.DocMeta, bool, error) {
	subj, err := s.names.log(doc)
	if err != nil {
		return syncd.DocMeta{}, false, err
	}
	for attempt := 0; ; attempt++ {
		last, err := s.lastLog(ctx, doc)
		if err != nil {
			return syncd.DocMeta{}, false, err
		}
		if last == nil || last.deleted {
			return syncd.DocMeta{}, false, nil
		}
		first, err := s.firstRev(ctx, doc, subj, last.epochSeq)
		if errors.Is(err, errRace) && attempt < 8 {
			continue
		}
		if err != nil {
			return syncd.DocMeta{}, false, err
		}
		return syncd.DocMeta{Doc: doc, Epoch: last.epoch, Head: last.head, First: first, Created: last.created, Updated: last.updated}, true, nil
	}
}
