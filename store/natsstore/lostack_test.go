package natsstore_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/natsstore"
)

// Lost acknowledgements: a publish whose answer never comes may still have
// been stored. Commit must find out which (by sending the same message
// again and reading the log back) and answer accordingly, never guess; and
// when its context ends first, say that it does not know.

// lossyStore opens a store whose publishes of log messages go through
// lose: it gets the message and the real publish.
func lossyStore(t *testing.T, nc *nats.Conn, prefix string, timeout time.Duration, lose func(ctx context.Context, m *nats.Msg, real natsstore.PublishFunc) (*jetstream.PubAck, error)) *natsstore.Store {
	t.Helper()
	s, err := natsstore.New(context.Background(), nc, natsstore.Options{Prefix: prefix, RequestTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	natsstore.WrapPublish(s, func(real natsstore.PublishFunc) natsstore.PublishFunc {
		return func(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) {
			if !strings.HasPrefix(m.Subject, prefix+".log.") {
				return real(ctx, m)
			}
			return lose(ctx, m, real)
		}
	})
	return s
}

// sendNoAck publishes m without a reply subject: the stream stores it and
// answers no one, as if the acknowledgement had been lost.
func sendNoAck(t *testing.T, nc *nats.Conn, m *nats.Msg) {
	if err := nc.PublishMsg(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}); err != nil {
		t.Error(err)
	}
	if err := nc.Flush(); err != nil {
		t.Error(err)
	}
}

func appendRec(doc string, e revision.Epoch, rev revision.Rev, client, req string) syncd.Record {
	return syncd.Record{Append: &syncd.AppendRecord{Doc: doc, Epoch: e, Op: &syncd.Op{Rev: rev, Kind: syncd.OpMerge, Payload: []byte(`{"a":1}`), ClientID: client, ClientReqID: req, Time: 1}}}
}

// checkOnce checks that doc holds exactly want operations.
func checkOnce(t *testing.T, s syncd.Store, doc string, want int) {
	t.Helper()
	sd, err := s.Load(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	if int(sd.Meta.Head) != want || len(sd.Tail) != want {
		t.Fatalf("head %d, tail %d ops; want %d, each once", sd.Meta.Head, len(sd.Tail), want)
	}
}

// testLostAcks runs the lost-acknowledgement cases on a server.
func testLostAcks(t *testing.T, nc *nats.Conn, prefix string) {
	ctx := context.Background()
	const e = revision.Epoch("01JLOST0000000000000000001")

	t.Run("StoredAckLost", func(t *testing.T) {
		// The first copy is stored and its acknowledgement lost; the
		// store sends it again and learns it was stored.
		var lost atomic.Int32
		s := lossyStore(t, nc, prefix+"-stored", time.Second, func(ctx context.Context, m *nats.Msg, real natsstore.PublishFunc) (*jetstream.PubAck, error) {
			if m.Header.Get("Syncd-Head") == "1" && lost.Add(1) == 1 {
				sendNoAck(t, nc, m)
				time.Sleep(50 * time.Millisecond) // let it be stored first
				return nil, context.DeadlineExceeded
			}
			return real(ctx, m)
		})
		if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "d", Epoch: e}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, []syncd.Record{appendRec("d", e, 1, "c1", "r-1")}); err != nil {
			t.Fatalf("Commit after a lost acknowledgement: %v, want nil (the op was stored)", err)
		}
		if lost.Load() < 2 {
			t.Fatalf("the store did not send the message again (%d sends)", lost.Load())
		}
		checkOnce(t, s, "d", 1)
		if st := s.Stats(); st.Retries == 0 || st.ReadBacks == 0 || st.Appends != 2 {
			t.Errorf("stats %+v: want a retry, a read-back and 2 appends", st)
		}
		// And the store goes on from there.
		if err := s.Commit(ctx, []syncd.Record{appendRec("d", e, 2, "c1", "r-2")}); err != nil {
			t.Fatal(err)
		}
		checkOnce(t, s, "d", 2)
	})

	t.Run("ConditionRefusedNothingVisibleYet", func(t *testing.T) {
		// CI, a three-node stream under load: the leader refused the
		// condition ("wrong last sequence") for a retry, yet showed no
		// message after the expected one (a new leader still applying
		// what was committed before it). That is no conflict: the store
		// looks again, and the message is stored once. Here the leader's
		// answer is made up and nothing is stored with it.
		var sends atomic.Int32
		s := lossyStore(t, nc, prefix+"-invisible", time.Second, func(ctx context.Context, m *nats.Msg, real natsstore.PublishFunc) (*jetstream.PubAck, error) {
			if m.Header.Get("Syncd-Head") == "1" && sends.Add(1) == 1 {
				return nil, &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence, Description: "wrong last sequence"}
			}
			return real(ctx, m)
		})
		if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "d", Epoch: e}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, []syncd.Record{appendRec("d", e, 1, "c1", "r-1")}); err != nil {
			t.Fatalf("Commit after a refused condition with nothing after it: %v, want nil", err)
		}
		if sends.Load() < 2 {
			t.Fatalf("the store did not send the message again (%d sends)", sends.Load())
		}
		checkOnce(t, s, "d", 1)
	})

	t.Run("NotStoredAckLost", func(t *testing.T) {
		// The first copy never reaches the stream; the retry stores it.
		var sends atomic.Int32
		s := lossyStore(t, nc, prefix+"-dropped", time.Second, func(ctx context.Context, m *nats.Msg, real natsstore.PublishFunc) (*jetstream.PubAck, error) {
			if m.Header.Get("Syncd-Head") == "1" && sends.Add(1) == 1 {
				return nil, nats.ErrTimeout
			}
			return real(ctx, m)
		})
		if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "d", Epoch: e}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, []syncd.Record{appendRec("d", e, 1, "c1", "r-1")}); err != nil {
			t.Fatalf("Commit after a lost publish: %v", err)
		}
		checkOnce(t, s, "d", 1)
	})

	t.Run("StoredByOtherAfterLoss", func(t *testing.T) {
		// Our copy is lost; meanwhile another writer stores its own
		// message in the place: the answer is a conflict, and nothing
		// of ours is stored.
		other, err := natsstore.New(ctx, nc, natsstore.Options{Prefix: prefix + "-other"})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		var sends atomic.Int32
		s := lossyStore(t, nc, prefix+"-other", time.Second, func(ctx context.Context, m *nats.Msg, real natsstore.PublishFunc) (*jetstream.PubAck, error) {
			if m.Header.Get("Syncd-Head") == "1" && sends.Add(1) == 1 {
				if err := other.Commit(ctx, []syncd.Record{appendRec("d", e, 1, "c2", "r-1")}); err != nil {
					t.Errorf("the other writer: %v", err)
				}
				return nil, nats.ErrTimeout
			}
			return real(ctx, m)
		})
		if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "d", Epoch: e}}}); err != nil {
			t.Fatal(err)
		}
		err = s.Commit(ctx, []syncd.Record{appendRec("d", e, 1, "c1", "r-1")})
		if !errors.Is(err, syncd.ErrConflict) {
			t.Fatalf("Commit: %v, want ErrConflict", err)
		}
		checkOnce(t, s, "d", 1)
		if sd, _ := s.Load(ctx, "d"); sd.Tail[0].ClientID != "c2" {
			t.Fatalf("the stored op is %+v, want the other writer's", sd.Tail[0])
		}
	})

	t.Run("OutcomeUnknown", func(t *testing.T) {
		// No answer comes before the context ends: the store must not
		// call it a failure. The message was in fact stored.
		s := lossyStore(t, nc, prefix+"-unknown", 10*time.Second, func(ctx context.Context, m *nats.Msg, real natsstore.PublishFunc) (*jetstream.PubAck, error) {
			if m.Header.Get("Syncd-Head") == "1" {
				sendNoAck(t, nc, m)
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return real(ctx, m)
		})
		if err := s.Commit(ctx, []syncd.Record{{Create: &syncd.CreateRecord{Doc: "d", Epoch: e}}}); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		err := s.Commit(cctx, []syncd.Record{appendRec("d", e, 1, "c1", "r-1")})
		var pe *syncd.PartialCommitError
		if !errors.As(err, &pe) || !errors.Is(pe.Failed["d"], syncd.ErrOutcomeUnknown) {
			t.Fatalf("Commit whose answer never came: %v, want a PartialCommitError whose error for d wraps ErrOutcomeUnknown", err)
		}
		if errors.Is(err, syncd.ErrConflict) {
			t.Fatalf("an unknown outcome reads as a conflict: %v", err)
		}
		if st := s.Stats(); st.Unknown != 1 {
			t.Errorf("stats %+v: want 1 unknown outcome", st)
		}
		// The log says what happened.
		checkOnce(t, s, "d", 1)
	})
}
