package natsstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// How the store reads the stream. A point read (the last message of a
// subject, the first at or after a sequence, one sequence) is a request to
// $JS.API.STREAM.MSG.GET, which only the stream leader answers: what it
// returns is at least as new as anything acknowledged before the request.
// A range read (a document's messages from one sequence up to one the
// leader named) is a batched direct get, which any replica may answer
// (allow_direct), many messages per round trip; it is checked, never
// trusted: the messages must reach the sequence the leader named, and
// each must name the one before it (Nats-Expected-Last-Subject-Sequence)
// as the one returned before it. A replica that lags answers short, and
// the rest is read again.

// msgGetRequest is JetStream's message get request.
type msgGetRequest struct {
	Seq      uint64 `json:"seq,omitempty"`
	LastFor  string `json:"last_by_subj,omitempty"`
	NextFor  string `json:"next_by_subj,omitempty"`
	Batch    int    `json:"batch,omitempty"`
	MaxBytes int    `json:"max_bytes,omitempty"`
}

// Data is kept raw and decoded by base64Field: encoding/json's own
// decoding of a []byte field runs its reflection-driven string decoder
// over every byte of the base64 text, which made a message get of a
// ~5 KB log message cost 2–4× what the scan plus a plain base64 decode
// does (in a cluster's rebases, leader gets were 13% of all its CPU).
type msgGetResponse struct {
	Error   *jetstream.APIError `json:"error,omitempty"`
	Message *struct {
		Subject  string          `json:"subject"`
		Sequence uint64          `json:"seq"`
		Header   []byte          `json:"hdrs,omitempty"`
		Data     json.RawMessage `json:"data,omitempty"`
		Time     time.Time       `json:"time"`
	} `json:"message,omitempty"`
}

// base64Field decodes a JSON string holding standard base64, as
// encoding/json would decode it into a []byte: null or absent is nil. A
// string with escapes (which JetStream does not write for base64, but
// JSON allows) goes through encoding/json.
func base64Field(raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' || bytes.IndexByte(raw, '\\') >= 0 {
		var b []byte
		err := json.Unmarshal(raw, &b)
		return b, err
	}
	text := raw[1 : len(raw)-1]
	b := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(b, text)
	return b[:n], err
}

// leaderGet asks the stream leader for one message; nil if there is none.
func (s *Store) leaderGet(ctx context.Context, req msgGetRequest) (*jetstream.RawStreamMsg, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	reply, err := s.nc.RequestWithContext(rctx, "$JS.API.STREAM.MSG.GET."+s.names.stream, body)
	if err != nil {
		return nil, err
	}
	var resp msgGetResponse
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		return nil, fmt.Errorf("natsstore: a message get answered %q: %w", reply.Data, err)
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return nil, nil
		}
		return nil, resp.Error
	}
	if resp.Message == nil {
		return nil, errors.New("natsstore: a message get answered no message")
	}
	data, err := base64Field(resp.Message.Data)
	if err != nil {
		return nil, fmt.Errorf("natsstore: message %d: data: %w", resp.Message.Sequence, err)
	}
	m := &jetstream.RawStreamMsg{Subject: resp.Message.Subject, Sequence: resp.Message.Sequence, Data: data, Time: resp.Message.Time}
	if len(resp.Message.Header) > 0 {
		if m.Header, err = nats.DecodeHeadersMsg(resp.Message.Header); err != nil {
			return nil, fmt.Errorf("natsstore: message %d: headers: %w", m.Sequence, err)
		}
	} else {
		m.Header = nats.Header{}
	}
	return m, nil
}

// getLast returns the last message on subject, or nil if it has none.
func (s *Store) getLast(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	m, err := s.leaderGet(ctx, msgGetRequest{LastFor: subject})
	if err != nil {
		return nil, s.readErr(ctx, "reading "+subject, err)
	}
	return m, nil
}

// getNext returns the first message on subject at sequence seq or later,
// or nil if there is none.
func (s *Store) getNext(ctx context.Context, subject string, seq uint64) (*jetstream.RawStreamMsg, error) {
	m, err := s.leaderGet(ctx, msgGetRequest{Seq: max(seq, 1), NextFor: subject})
	if err != nil {
		return nil, s.readErr(ctx, fmt.Sprintf("reading %s from %d", subject, seq), err)
	}
	return m, nil
}

// getSeq returns the message at seq, or nil if there is none.
func (s *Store) getSeq(ctx context.Context, seq uint64) (*jetstream.RawStreamMsg, error) {
	m, err := s.leaderGet(ctx, msgGetRequest{Seq: seq})
	if err != nil {
		return nil, s.readErr(ctx, fmt.Sprintf("reading message %d", seq), err)
	}
	return m, nil
}

// readErr is ctx's error if it ended, else a transient failure.
func (s *Store) readErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("natsstore: %s: %w", what, ctx.Err())
	}
	return unavailable(what, err)
}

const (
	// rangeBatch and rangeBytes bound one direct get of a range read.
	rangeBatch = 256
	rangeBytes = 8 << 20
)

// readRange calls fn with each message on subject from sequence from up to
// and including to (which the caller learnt from the leader: a message on
// subject), in order, until fn returns false. Messages come in batches
// from any replica; a replica that does not have them yet answers short,
// and the read goes on from where it stopped.
func (s *Store) readRange(ctx context.Context, subject string, from, to uint64, fn func(*jetstream.RawStreamMsg) (bool, error)) error {
	for from <= to {
		msgs, err := s.directBatch(ctx, subject, from)
		if err != nil {
			return s.readErr(ctx, fmt.Sprintf("reading %s from %d", subject, from), err)
		}
		if len(msgs) == 0 {
			// This replica is behind: the leader has the next one.
			m, err := s.getNext(ctx, subject, from)
			if err != nil {
				return err
			}
			if m == nil {
				return errRace // purged meanwhile
			}
			msgs = append(msgs, m)
		}
		for _, m := range msgs {
			if m.Sequence > to {
				return nil
			}
			more, err := fn(m)
			if err != nil || !more {
				return err
			}
			from = m.Sequence + 1
		}
	}
	return nil
}

// directBatch asks any replica for up to rangeBatch messages on subject
// from sequence from.
func (s *Store) directBatch(ctx context.Context, subject string, from uint64) ([]*jetstream.RawStreamMsg, error) {
	body, err := json.Marshal(msgGetRequest{Seq: max(from, 1), NextFor: subject, Batch: rangeBatch, MaxBytes: rangeBytes})
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	inbox := s.nc.NewRespInbox()
	sub, err := s.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := s.nc.PublishRequest("$JS.API.DIRECT.GET."+s.names.stream, inbox, body); err != nil {
		return nil, err
	}
	var out []*jetstream.RawStreamMsg
	for {
		m, err := sub.NextMsgWithContext(rctx)
		if err != nil {
			return nil, err
		}
		if len(m.Data) == 0 && m.Header.Get("Status") != "" {
			switch m.Header.Get("Status") {
			case "204", "404": // end of the batch; nothing (more) there
				return out, nil
			default:
				return nil, fmt.Errorf("direct get: status %s %s", m.Header.Get("Status"), m.Header.Get("Description"))
			}
		}
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("direct get: sequence header %q", m.Header.Get(jetstream.SequenceHeader))
		}
		ts, _ := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
		out = append(out, &jetstream.RawStreamMsg{Subject: m.Header.Get(jetstream.SubjectHeader), Sequence: seq, Header: m.Header, Data: m.Data, Time: ts})
		if len(out) > rangeBatch {
			return nil, errors.New("direct get: more messages than asked for")
		}
	}
}
