package server_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// darkStore is a shared store handle that, once armed, answers its next
// commit "outcome unknown" (the publish's acknowledgement was lost) and
// then fails every read: the log cannot be read to tell what happened.
type darkStore struct {
	*memstore.Handle
	armed, dark atomic.Bool
	committed   chan struct{}
}

func (s *darkStore) Commit(ctx context.Context, batch []syncd.Record) error {
	if s.armed.CompareAndSwap(true, false) {
		s.dark.Store(true)
		close(s.committed)
		failed := map[string]error{}
		for _, r := range batch {
			if r.Append != nil {
				failed[r.Append.Doc] = fmt.Errorf("injected: %w", syncd.ErrOutcomeUnknown)
			}
		}
		return &syncd.PartialCommitError{Failed: failed}
	}
	return s.Handle.Commit(ctx, batch)
}

func (s *darkStore) unreadable() error {
	if s.dark.Load() {
		return fmt.Errorf("injected: %w", syncd.ErrUnavailable)
	}
	return nil
}

func (s *darkStore) Load(ctx context.Context, doc string) (*syncd.StoredDoc, error) {
	if err := s.unreadable(); err != nil {
		return nil, err
	}
	return s.Handle.Load(ctx, doc)
}

func (s *darkStore) Head(ctx context.Context, doc string) (revision.Epoch, revision.Rev, error) {
	if err := s.unreadable(); err != nil {
		return "", 0, err
	}
	return s.Handle.Head(ctx, doc)
}

// An edit whose outcome the server cannot tell (its write's answer was
// lost and the log cannot be read) is not answered with an ERROR, which
// would make the client roll it back or re-issue it under a new id: the
// connection is closed with 1013, and the client settles the edit from
// the JOIN answer when it reconnects (PROTOCOL.md §6.6).
func TestUnsettledEditClosesTheConnection(t *testing.T) {
	sh := memstore.NewShared(memstore.Options{})
	t.Cleanup(func() { sh.Close() })
	st := &darkStore{Handle: sh.Open(), committed: make(chan struct{})}
	ev := newEnvStore(t, st, syncd.Options{}, server.Options{})
	const doc = "unsettled/doc"
	c := ev.dial("")
	c.join(doc)
	c.edit(doc, map[string]any{"a": 1})

	st.armed.Store(true)
	id := c.nextReq()
	c.update(doc, map[string]any{"b": 1}, id)
	<-st.committed
	// The engine closes while it still cannot read the log: the edit's
	// outcome stays unknown.
	closed := make(chan struct{})
	go func() { ev.engine.Close(); close(closed) }()
	for {
		m, err := c.TryRead(15 * time.Second)
		if err != nil {
			code, ok := closeCodeOf(err)
			if !ok || code != protocol.CloseTryAgainLater {
				t.Fatalf("connection ended with %v, want close %d", err, protocol.CloseTryAgainLater)
			}
			break
		}
		if m.Type == protocol.TypeError {
			t.Fatalf("the edit of unknown outcome was answered with an ERROR: %s", m.Raw)
		}
	}
	<-closed
}
