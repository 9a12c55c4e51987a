package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// One fan-out path: a document's operations, presence changes and room
// messages reach a member connection through its one membership (the
// engine's subscription and its sink), in one order per document.

// trace is what a member received of a document, each message named by
// what it carries, in the order received.
type trace []string

// record reads c's messages until it has seen ops operations, msgs room
// messages and changes presence changes (full rooms aside), and returns
// them as a trace.
func (c *client) record(ops, msgs, changes int) trace {
	c.t.Helper()
	var tr trace
	var nOps, nMsgs, nChanges int
	for n := 0; nOps < ops || nMsgs < msgs || nChanges < changes; n++ {
		if n > 2*(ops+msgs+changes)+10 {
			c.t.Fatalf("after %d messages: %d operations, %d messages, %d presence changes; want %d, %d, %d", n, nOps, nMsgs, nChanges, ops, msgs, changes)
		}
		m := c.read()
		switch m.Type {
		case protocol.TypeSyncDeltas:
			d := decodeAs[protocol.SyncDeltas](c.t, m)
			tr = append(tr, fmt.Sprintf("deltas %d-%d", d.FromRev, d.ToRev))
			nOps += len(d.Operations)
		case protocol.TypeMessage:
			tr = append(tr, "message "+string(decodeAs[protocol.Message](c.t, m).Data))
			nMsgs++
		case protocol.TypePresence:
			p := decodeAs[protocol.Presence](c.t, m)
			for _, e := range p.Clients {
				tr = append(tr, "presence "+string(e.State))
				nChanges++
			}
		default:
			c.t.Fatalf("unexpected %s", m)
		}
	}
	return tr
}

// TestRoomOneOrderForEveryMember: operations, presence changes and room
// messages of one document, sent at once by three clients, reach every
// other member in one and the same order.
func TestRoomOneOrderForEveryMember(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "fanout/order"
	writer, publisher, setter := ev.dial(""), ev.dial(""), ev.dial("")
	watchers := []*client{ev.dial(""), ev.dial(""), ev.dial("")}
	for _, c := range append([]*client{writer, publisher, setter}, watchers...) {
		c.join(doc)
	}
	for _, w := range watchers {
		w.drain() // the full rooms after the others' JOINs
	}
	// Within every limit's burst: 40 updates, publishes and presence
	// values each, from three connections handled concurrently.
	const rounds = 40
	for i := range rounds {
		writer.update(doc, map[string]any{"n": i}, writer.nextReq())
		publisher.send(protocol.TypePublish, map[string]any{"doc": doc, "data": i})
		setter.send(protocol.TypePresenceSet, map[string]any{"doc": doc, "state": map[string]any{"n": i}})
	}
	first := watchers[0].record(rounds, rounds, rounds)
	for i, w := range watchers[1:] {
		if got := w.record(rounds, rounds, rounds); !slices.Equal(got, first) {
			t.Fatalf("watcher %d received\n%q\nwatcher 0\n%q", i+1, got, first)
		}
	}
	for _, w := range watchers {
		w.quiet()
	}
	// Every member but the publisher was sent each room message, and the
	// metric counts them (it once counted none).
	if got, want := ev.metricValue("syncd_messages_out_total", "type", protocol.TypeMessage), float64(5*rounds); got != want {
		t.Fatalf("messages_out MESSAGE = %v, want %v", got, want)
	}
}

// TestRoomMessageNeverOvertakesWhatItsSenderSaw: a room message sent after
// its sender received an operation reaches every other member after that
// operation, however many members the operation had to reach first.
func TestRoomMessageNeverOvertakesWhatItsSenderSaw(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	const doc = "fanout/causality"
	sender := ev.dial("")
	sender.join(doc)
	watchers := make([]*client, 8)
	for i := range watchers {
		watchers[i] = ev.dial("")
		watchers[i].join(doc)
	}
	const rounds = 20
	for i := range rounds {
		sender.edit(doc, map[string]any{"n": i}) // waits for its echo
		sender.send(protocol.TypePublish, map[string]any{"doc": doc, "data": i + 1})
	}
	for i, w := range watchers {
		var head, msg int
		for _, e := range w.record(rounds, rounds, 0) {
			var from int
			switch {
			case fmtScan(e, "deltas %d-%d", &from, &head):
			case fmtScan(e, "message %d", &msg):
				if msg > head {
					t.Fatalf("watcher %d: message %d arrived at revision %d, before the operation its sender had seen", i, msg, head)
				}
			default:
				t.Fatalf("watcher %d: unexpected %q", i, e)
			}
		}
	}
}

// fmtScan reports whether s has format's shape, filling args.
func fmtScan(s, format string, args ...any) bool {
	n, err := fmt.Sscanf(s, format, args...)
	return err == nil && n == len(args)
}

// outcomesFailingStore fails reads of a client's outcomes while failing is
// set, which fails the catch-up of a JOIN from a client with acknowledged
// edits.
type outcomesFailingStore struct {
	*memstore.Store
	failing atomic.Bool
}

func (s *outcomesFailingStore) Outcomes(ctx context.Context, doc, clientID string) ([]revision.Outcome, error) {
	if s.failing.Load() {
		return nil, fmt.Errorf("disk on fire: %w", syncd.ErrUnavailable)
	}
	return s.Store.Outcomes(ctx, doc, clientID)
}

// TestFailedRejoinLeavesTheRoom: a re-JOIN refused after the old
// subscription ended leaves the document as LEAVE does: the room hears the
// client's presence leave, its room messages and operations stop, and it
// is not joined; a later JOIN makes it a member again.
func TestFailedRejoinLeavesTheRoom(t *testing.T) {
	st := &outcomesFailingStore{Store: memstore.New(memstore.Options{})}
	ev := newEnvStore(t, st, syncd.Options{}, server.Options{})
	const doc = "fanout/rejoin"
	a, b := ev.dial(""), ev.dial("")
	a.joinWith(map[string]any{"doc": doc, "presence": map[string]any{"name": "a"}}, "")
	a.presence() // its own entry
	b.join(doc)
	a.edit(doc, map[string]any{"x": 1}) // so that a's catch-up reads its outcomes
	b.drain()
	a.drain()

	st.failing.Store(true)
	a.send(protocol.TypeJoin, map[string]any{"doc": doc, "rev": 1})
	a.expectError(protocol.CodeUnavailable)
	st.failing.Store(false)
	if left := b.presence().Left; !slices.Equal(left, []string{a.author}) {
		t.Fatalf("the room heard %v leave, want %s", left, a.author)
	}
	b.rpcOK(protocol.TypePublish, map[string]any{"doc": doc, "data": "hello?"})
	b.edit(doc, map[string]any{"x": 2})
	a.quiet()
	id := a.nextReq()
	a.update(doc, map[string]any{"x": 3}, id)
	a.expectError(protocol.CodeFailedPrecondition) // not joined
	a.send(protocol.TypeLeave, map[string]any{"doc": doc})
	a.expectError(protocol.CodeFailedPrecondition)

	a.join(doc)
	b.rpcOK(protocol.TypePublish, map[string]any{"doc": doc, "data": "again"})
	if m := decodeAs[protocol.Message](t, a.expect(protocol.TypeMessage)); string(m.Data) != `"again"` {
		t.Fatalf("message %+v", m)
	}
}
