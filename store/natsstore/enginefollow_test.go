package natsstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/natsstore"
)

// evLog records a subscription's events and checks them as they come:
// deltas continue the last revision, with contiguous operations.
type evLog struct {
	mu    sync.Mutex
	epoch revision.Epoch
	rev   revision.Rev
	bad   []string
	resyn bool
	revs  map[string]int
}

func (l *evLog) sink(ev *syncd.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.revs == nil {
		l.revs = map[string]int{}
	}
	switch ev.Kind {
	case syncd.EventSnapshot:
		l.epoch, l.rev = ev.Epoch, ev.Rev
	case syncd.EventDeltas:
		if ev.Epoch != l.epoch || ev.FromRev != l.rev {
			l.bad = append(l.bad, fmt.Sprintf("deltas %s %d..%d after %s@%d", ev.Epoch, ev.FromRev, ev.ToRev, l.epoch, l.rev))
		}
		for _, op := range ev.Ops {
			if op.Rev != l.rev+1 && op.FirstRev != l.rev+1 {
				l.bad = append(l.bad, fmt.Sprintf("op %d after %d", op.Rev, l.rev))
			}
			l.revs[fmt.Sprintf("%s@%d", ev.Epoch, op.Rev)]++
			l.rev = op.Rev
		}
		l.rev = ev.ToRev
	case syncd.EventResync:
		l.resyn = true
	}
}

func (l *evLog) at() (revision.Epoch, revision.Rev, bool, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch, l.rev, l.resyn, append([]string(nil), l.bad...)
}

// TestEngineFollowsAcrossNodeRestart: a subscriber on engine A sees every
// revision engine B commits, in order, once, while the NATS node restarts.
func TestEngineFollowsAcrossNodeRestart(t *testing.T) { engineFollows(t, "restart") }

// TestEngineFollowsAcrossConsumerDeleted: the same when A's consumer is
// deleted on the server.
func TestEngineFollowsAcrossConsumerDeleted(t *testing.T) { engineFollows(t, "delcons") }

// TestEngineFollowsWithPurges: the same with a log purged every few
// operations.
func TestEngineFollowsWithPurges(t *testing.T) { engineFollows(t, "purge") }

// TestEngineFollowsDeleteRecreate: the same when B deletes the document
// and writes it again (a new epoch).
func TestEngineFollowsDeleteRecreate(t *testing.T) { engineFollows(t, "recreate") }

func engineFollows(t *testing.T, mode string) {
	ctx := context.Background()
	o := nodeOptions(t, "restart")
	node := startServer(t, o)
	o2 := o.Clone()
	o2.Port = node.Addr().(*net.TCPAddr).Port
	ncA, ncB := connect(t, node), connect(t, node)
	const prefix = "enginerestart"
	retain := 0
	sopts := syncd.Options{}
	if mode == "purge" {
		retain, sopts.SnapshotInterval = 3, 2
	}
	sA, err := natsstore.New(ctx, ncA, natsstore.Options{Prefix: prefix, RequestTimeout: time.Second, RetainOps: retain})
	if err != nil {
		t.Fatal(err)
	}
	defer sA.Close()
	sB, err := natsstore.New(ctx, ncB, natsstore.Options{Prefix: prefix, RequestTimeout: time.Second, RetainOps: retain})
	if err != nil {
		t.Fatal(err)
	}
	defer sB.Close()
	eA, err := syncd.Open(sA, sopts)
	if err != nil {
		t.Fatal(err)
	}
	defer eA.Close()
	eB, err := syncd.Open(sB, sopts)
	if err != nil {
		t.Fatal(err)
	}
	defer eB.Close()
	commit := func(i int) error {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := eB.Commit(cctx, "d", syncd.Edit{Patch: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), ClientID: "w", ReqID: fmt.Sprintf("r-%05d", i)})
		return err
	}
	if err := commit(0); err != nil {
		t.Fatal(err)
	}
	l := &evLog{}
	sub, err := eA.Subscribe(ctx, "d", syncd.SubscribeRequest{}, l.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { sub.Close() }()
	restartedCh := make(chan *server.Server, 1)
	for i := 1; i <= 60; i++ {
		if i == 20 && mode == "delcons" {
			js, err := jetstream.New(ncB)
			if err != nil {
				t.Fatal(err)
			}
			st, err := js.Stream(ctx, prefix)
			if err != nil {
				t.Fatal(err)
			}
			names := st.ConsumerNames(ctx)
			var all []string
			for n := range names.Name() {
				all = append(all, n)
			}
			for _, n := range all {
				if err := st.DeleteConsumer(ctx, n); err != nil {
					t.Logf("delete consumer %s: %v", n, err)
				}
			}
			t.Logf("deleted consumers %v", all)
		}
		if (i == 20 || i == 40) && mode == "recreate" {
			if err := eB.Delete(ctx, "d"); err != nil {
				t.Fatal(err)
			}
		}
		if i == 20 && mode == "restart" {
			node.Shutdown()
			node.WaitForShutdown()
			go func() {
				time.Sleep(300 * time.Millisecond)
				s, err := server.NewServer(o2)
				if err != nil {
					panic(err)
				}
				go s.Start()
				restartedCh <- s
			}()
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := commit(i)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("commit %d: %v", i, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if mode == "restart" {
		restarted := <-restartedCh
		defer func() {
			restarted.Shutdown()
			restarted.WaitForShutdown()
		}()
	}
	headEpoch, head, err := sB.Head(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, rev, resync, bad := l.at()
		if len(bad) > 0 {
			t.Fatalf("subscriber's stream is wrong: %v", bad)
		}
		if resync {
			t.Logf("resynced at %d", rev)
			break
		}
		if ep, _, _, _ := l.at(); rev >= head && ep == headEpoch {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriber on A stuck at %d; the log's head is %d", rev, head)
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.mu.Lock()
	for r, n := range l.revs {
		if n > 1 {
			t.Errorf("revision %s delivered %d times", r, n)
		}
	}
	l.mu.Unlock()
}

// hookedStore runs hook (once, when armed) inside a Watermark read: a
// join's watermark reads come after its freshen read the head and before
// it starts the document's watch.
type hookedStore struct {
	*natsstore.Store
	mu   sync.Mutex
	hook func()
}

func (h *hookedStore) Watermark(ctx context.Context, doc, clientID string) (revision.Watermark, error) {
	h.mu.Lock()
	hook := h.hook
	h.hook = nil
	h.mu.Unlock()
	if hook != nil {
		hook()
	}
	return h.Store.Watermark(ctx, doc, clientID)
}

// TestEngineJoinSeesCommitBeforeItsWatch: on engine A, whose consumer
// already runs (another document is watched), a client joins d; engine B
// commits to d after the join's freshen read the head and before the join
// started d's watch. The consumer delivers that message while nobody
// here watches d, and drops it: A's subscriber stays behind B's commit
// until someone commits to d again.
func TestEngineJoinSeesCommitBeforeItsWatch(t *testing.T) {
	ctx := context.Background()
	node := startNode(t)
	ncA, ncB := connect(t, node), connect(t, node)
	const prefix = "joinwindow"
	sA0, err := natsstore.New(ctx, ncA, natsstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer sA0.Close()
	sA := &hookedStore{Store: sA0}
	sB, err := natsstore.New(ctx, ncB, natsstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer sB.Close()
	eA, err := syncd.Open(sA, syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eA.Close()
	eB, err := syncd.Open(sB, syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eB.Close()
	commit := func(doc string, i int) {
		t.Helper()
		if _, err := eB.Commit(ctx, doc, syncd.Edit{Patch: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	commit("other", 0)
	commit("d", 0)
	lo := &evLog{}
	subO, err := eA.Subscribe(ctx, "other", syncd.SubscribeRequest{}, lo.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer subO.Close()
	sA.hook = func() {
		commit("d", 1)
		commit("other", 1)
		// The consumer is ordered: once A's subscriber to other has
		// revision 2, the consumer has handed on d's message too.
		waitFor(t, 10*time.Second, "A to follow other", func() bool {
			_, rev, _, _ := lo.at()
			return rev >= 2
		})
	}
	l := &evLog{}
	sub, err := eA.Subscribe(ctx, "d", syncd.SubscribeRequest{ClientID: "c"}, l.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, rev, _, bad := l.at()
		if len(bad) > 0 {
			t.Fatal(bad)
		}
		if rev >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A's subscriber to d is stuck at revision %d; B's commit 2 was stored before Subscribe returned", rev)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
