package syncd_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/memstore"
)

// memCluster is engines on one shared memstore that forward to each other
// in memory (memForwarder): engine 0 is every document's home.
type memCluster struct {
	engines []*syncd.Engine
	fwds    []*memForwarder
	store   *memstore.Shared
	stores  []syncd.Store
	clock   *fakeClock
}

// What a memForwarder does with an edit (memForwarder.mode).
const (
	fwdDeliver      int32 = iota // to the home, and the home's outcome back
	fwdNoResponders              // ErrNotForwarded, not delivered
	fwdLoseReply                 // delivered, decided, but the reply is a timeout
	fwdDrop                      // not delivered, and the reply is a timeout
	// fwdDropLate: not delivered, and the reply, a timeout, comes only
	// once the home has decided the next edit delivered.
	fwdDropLate
)

var errFwdTimeout = errors.New("forward: timed out")

// memForwarder forwards one engine's edits to another of a memCluster, in
// order: one goroutine takes them one after another.
type memForwarder struct {
	c    *memCluster
	self int
	mode atomic.Int32

	mu      sync.Mutex
	jobs    []func()
	stopped bool
	wake    chan struct{}
	// gate, while set, holds every delivery until it is closed.
	gate chan struct{}
	// late are the replies of fwdDropLate forwards, owed.
	late []func(syncd.ForwardOutcome, error)
	done chan struct{}
}

type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) now() time.Time           { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *fakeClock) advance(by time.Duration) { c.offset.Add(int64(by)) }

func (f *memForwarder) Home(doc string) (string, bool) { return "e0", f.self == 0 }

func (f *memForwarder) Contended(doc string) {
	for i, e := range f.c.engines {
		if i != f.self {
			e.Contended(doc)
		}
	}
}

func (f *memForwarder) Forward(instance string, fe syncd.ForwardedEdit, reply func(syncd.ForwardOutcome, error)) {
	var to int
	fmt.Sscanf(instance, "e%d", &to)
	fe.From = fmt.Sprintf("e%d", f.self)
	mode := f.mode.Load()
	job := func() {
		switch mode {
		case fwdNoResponders:
			reply(syncd.ForwardOutcome{}, fmt.Errorf("no responders: %w", syncd.ErrNotForwarded))
		case fwdDrop:
			reply(syncd.ForwardOutcome{}, errFwdTimeout)
		case fwdDropLate:
			f.mu.Lock()
			f.late = append(f.late, reply)
			f.mu.Unlock()
		case fwdLoseReply:
			ch := make(chan struct{})
			f.c.engines[to].CommitForwarded(context.Background(), fe, func(syncd.ForwardOutcome) { close(ch) })
			<-ch
			reply(syncd.ForwardOutcome{}, errFwdTimeout)
		default:
			ch := make(chan syncd.ForwardOutcome, 1)
			f.c.engines[to].CommitForwarded(context.Background(), fe, func(out syncd.ForwardOutcome) { ch <- out })
			out := <-ch
			f.mu.Lock()
			late := f.late
			f.late = nil
			f.mu.Unlock()
			for _, r := range late {
				r(syncd.ForwardOutcome{}, errFwdTimeout)
			}
			reply(out, nil)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.jobs = append(f.jobs, job)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *memForwarder) run() {
	defer close(f.done)
	for {
		f.mu.Lock()
		if f.stopped {
			f.mu.Unlock()
			return
		}
		var job func()
		if len(f.jobs) > 0 {
			job = f.jobs[0]
			f.jobs = f.jobs[1:]
		}
		gate := f.gate
		f.mu.Unlock()
		if job == nil {
			<-f.wake
			continue
		}
		if gate != nil {
			<-gate
		}
		job()
	}
}

func (f *memForwarder) hold() (release func()) {
	gate := make(chan struct{})
	f.mu.Lock()
	f.gate = gate
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		f.gate = nil
		f.mu.Unlock()
		close(gate)
	}
}

func (f *memForwarder) stop() {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
	<-f.done
}

func newMemCluster() *memCluster {
	return &memCluster{store: memstore.NewShared(memstore.Options{}), clock: &fakeClock{}}
}

// add opens engine i (the next), with its forwarder, on its own handle of
// the shared store (wrapped by wrap, if not nil).
func (c *memCluster) add(i int, opts syncd.Options, wrap func(syncd.SharedStore) syncd.Store) error {
	f := &memForwarder{c: c, self: i, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go f.run()
	c.fwds = append(c.fwds, f)
	opts.Now, opts.Forwarder = c.clock.now, f
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler) // fallbacks warn; the tests cause them on purpose
	}
	h := c.store.Open()
	c.stores = append(c.stores, h)
	var st syncd.Store = h
	if wrap != nil {
		st = wrap(h)
	}
	e, err := syncd.Open(st, opts)
	if err != nil {
		return err
	}
	c.engines = append(c.engines, e)
	return nil
}

// shutdown stops the forwarders, then closes the engines and the store.
func (c *memCluster) shutdown() {
	for _, f := range c.fwds {
		f.stop()
	}
	for _, e := range c.engines {
		e.Close()
	}
	for _, st := range c.stores {
		st.Close()
	}
	c.store.Close()
}

// openForwarding opens n engines that forward to engine 0.
func openForwarding(t testing.TB, n int, opts syncd.Options) *memCluster {
	t.Helper()
	c := newMemCluster()
	t.Cleanup(c.shutdown)
	for i := range n {
		if err := c.add(i, opts, nil); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func idem(client, req, patch string) syncd.Edit {
	ed := merge(patch)
	ed.ClientID, ed.ReqID = client, req
	return ed
}

// contend makes doc contended on engine b: b's copy is left behind by a
// commit of engine 0's, so b's next commit conflicts, which puts doc in
// forward mode there; that edit (client "warm") is forwarded by the
// rebase.
func (c *memCluster) contend(t *testing.T, b int, doc string) {
	t.Helper()
	ctx := ctxT(t)
	mustCommit(t, c.engines[0], doc, merge(`{"warm":0}`))
	if _, err := c.engines[b].State(ctx, doc); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, c.engines[0], doc, merge(`{"warm":1}`))
	before := c.engines[b].Stats().ForwardsOut
	mustCommit(t, c.engines[b], doc, idem("warm", "w1", `{"warm":2}`))
	st := c.engines[b].Stats()
	if st.ForwardModeDocs != 1 {
		t.Fatalf("after a conflict, %d documents in forward mode, want 1", st.ForwardModeDocs)
	}
	if st.ForwardsOut != before+1 {
		t.Fatalf("the rebase forwarded %d edits, want 1", st.ForwardsOut-before)
	}
}

// A contended document's idempotent edits on a non-home engine are decided
// by the home, in order, once each; the answers name the stored
// revisions; non-idempotent edits are decided locally; every engine
// converges.
func TestForwardContendedDocument(t *testing.T) {
	c := openForwarding(t, 2, syncd.Options{})
	a, b := c.engines[0], c.engines[1]
	c.contend(t, 1, "d")
	in := a.Stats().ForwardsIn
	const n = 40
	ops := make([]*syncd.Op, n)
	for i := range n {
		ops[i] = mustCommit(t, b, "d", idem("c", fmt.Sprintf("r%03d", i), fmt.Sprintf(`{"n":%d}`, i)))
		if i > 0 && ops[i].Rev <= ops[i-1].Rev {
			t.Fatalf("edit %d at revision %d, after %d", i, ops[i].Rev, ops[i-1].Rev)
		}
	}
	if got := a.Stats().ForwardsIn - in; got != n {
		t.Fatalf("the home received %d forwarded edits, want %d", got, n)
	}
	local := mustCommit(t, b, "d", merge(`{"anon":1}`)) // no ids: decided here
	stored := requireConverged(t, c.engines, a.Store(), "d")
	for _, op := range ops {
		if s := stored[op.Rev-1]; s.ClientReqID != op.ClientReqID {
			t.Fatalf("revision %d: answered %s, stored %s", op.Rev, op.ClientReqID, s.ClientReqID)
		}
	}
	if stored[local.Rev-1].ClientID != "" {
		t.Fatalf("the anonymous edit is not at its revision %d", local.Rev)
	}
	// A resend is a duplicate, decided by the home too.
	_, err := b.Commit(ctxT(t), "d", idem("c", "r005", `{"n":5}`))
	wantCode(t, err, syncd.CodeDuplicate)
}

// A refusal at the home reaches the forwarding engine's caller with its
// code and the head.
func TestForwardRefusal(t *testing.T) {
	c := openForwarding(t, 2, syncd.Options{})
	b := c.engines[1]
	c.contend(t, 1, "d")
	ed := idem("c", "r1", `[{"op":"test","path":"/warm","value":99}]`)
	_, err := b.Commit(ctxT(t), "d", ed)
	e := wantCode(t, err, syncd.CodePrecondition)
	if e.Head != 3 || e.ReqID != "r1" || e.Doc != "d" {
		t.Fatalf("refusal %+v: want head 3, req r1, doc d", e)
	}
	// The refusal was a decision: the id is spent.
	_, err = b.Commit(ctxT(t), "d", idem("c", "r1", `{"x":1}`))
	wantCode(t, err, syncd.CodeDuplicate)
}

// Forwards that fail are decided here: not delivered; delivered with the
// reply lost (the home's decision is the answer); not delivered with the
// outcome unknown. Each edit is stored once, and later edits of the same
// client still apply.
func TestForwardFallbacks(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode int32
		stat func(syncd.Stats) uint64
	}{
		{"no responders", fwdNoResponders, func(s syncd.Stats) uint64 { return s.ForwardsNotDelivered }},
		{"reply lost", fwdLoseReply, func(s syncd.Stats) uint64 { return s.ForwardsUnknown }},
		{"dropped", fwdDrop, func(s syncd.Stats) uint64 { return s.ForwardsUnknown }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := openForwarding(t, 2, syncd.Options{})
			b := c.engines[1]
			c.contend(t, 1, "d")
			c.fwds[1].mode.Store(tc.mode)
			op1 := mustCommit(t, b, "d", idem("c", "r1", `{"a":1}`))
			op2 := mustCommit(t, b, "d", idem("c", "r2", `{"a":2}`))
			if tc.stat(b.Stats()) != 2 {
				t.Fatalf("fallbacks counted %d, want 2", tc.stat(b.Stats()))
			}
			c.fwds[1].mode.Store(fwdDeliver)
			op3 := mustCommit(t, b, "d", idem("c", "r3", `{"a":3}`))
			stored := requireConverged(t, c.engines, c.engines[0].Store(), "d")
			for i, op := range []*syncd.Op{op1, op2, op3} {
				if s := stored[op.Rev-1]; s.ClientReqID != op.ClientReqID {
					t.Fatalf("edit %d answered at %d, which holds %q", i+1, op.Rev, s.ClientReqID)
				}
			}
			if len(stored) != 3+3 {
				t.Fatalf("store holds %d ops, want 6", len(stored))
			}
		})
	}
}

// While forwards of a document are in flight, an idempotent edit that is
// no longer forwarded (forward mode ended) waits for them: the client's
// earlier request is decided first.
func TestForwardModeEndsAfterForwardsInFlight(t *testing.T) {
	c := openForwarding(t, 2, syncd.Options{ForwardHold: time.Second})
	b := c.engines[1]
	c.contend(t, 1, "d")
	release := c.fwds[1].hold()
	first := make(chan *syncd.Op, 1)
	b.CommitAsync(ctxT(t), "d", idem("c", "r1", `{"a":1}`), func(op *syncd.Op, err error) {
		if err != nil {
			t.Errorf("r1: %v", err)
		}
		first <- op
	})
	c.clock.advance(2 * time.Second) // forward mode is over
	if n := b.Stats().ForwardModeDocs; n != 0 {
		t.Fatalf("%d documents still in forward mode", n)
	}
	second := make(chan *syncd.Op, 1)
	go func() {
		op, err := b.Commit(ctxT(t), "d", idem("c", "r2", `{"a":2}`))
		if err != nil {
			t.Errorf("r2: %v", err)
		}
		second <- op
	}()
	select {
	case <-second:
		t.Fatal("r2 was decided while r1 was still forwarded")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	op1, op2 := <-first, <-second
	if op1 == nil || op2 == nil || op2.Rev != op1.Rev+1 {
		t.Fatalf("r1 %+v, r2 %+v: want r2 right after r1", op1, op2)
	}
	requireConverged(t, c.engines, c.engines[0].Store(), "d")
}

// Three engines, clients on each writing one document at once: every
// acknowledged edit is stored once at its revision, each client's edits
// in its order, and every engine converges.
func TestForwardConcurrentClients(t *testing.T) {
	c := openForwarding(t, 3, syncd.Options{})
	mustCommit(t, c.engines[0], "d", merge(`{}`))
	const clients, edits = 6, 15
	var wg sync.WaitGroup
	acked := make([][]*syncd.Op, clients)
	for k := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := c.engines[k%3]
			for i := range edits {
				op, err := e.Commit(ctxT(t), "d", idem(fmt.Sprintf("c%d", k), fmt.Sprintf("r%03d", i), fmt.Sprintf(`{"c%d":%d}`, k, i)))
				if err != nil {
					t.Errorf("client %d edit %d: %v", k, i, err)
					return
				}
				acked[k] = append(acked[k], op)
			}
		}()
	}
	wg.Wait()
	stored := requireConverged(t, c.engines, c.engines[0].Store(), "d")
	if len(stored) != 1+clients*edits {
		t.Fatalf("store holds %d ops, want %d", len(stored), 1+clients*edits)
	}
	for k, ops := range acked {
		for i, op := range ops {
			if s := stored[op.Rev-1]; s.ClientID != fmt.Sprintf("c%d", k) || s.ClientReqID != fmt.Sprintf("r%03d", i) {
				t.Fatalf("client %d edit %d answered at %d, which holds %s/%s", k, i, op.Rev, s.ClientID, s.ClientReqID)
			}
			if i > 0 && op.Rev <= ops[i-1].Rev {
				t.Fatalf("client %d: edit %d at %d, before edit %d at %d", k, i, op.Rev, i-1, ops[i-1].Rev)
			}
		}
	}
	var out uint64
	for _, e := range c.engines {
		out += e.Stats().ForwardsOut
	}
	t.Logf("forwarded %d of %d edits", out, clients*edits)
}

// slowShared is a shared store whose commits take a while, as a
// replicated log's do: long enough for writers on other engines to
// contend.
type slowShared struct {
	syncd.SharedStore
}

func (s slowShared) Commit(ctx context.Context, batch []syncd.Record) error {
	time.Sleep(time.Millisecond)
	return s.SharedStore.Commit(ctx, batch)
}

// Issue 15's hot document in memory: clients on three engines pipeline
// edits to one document that every engine has a subscriber of (so every
// engine follows the others' commits all the time). Every engine's
// clients get acknowledgements while the others' write — none is starved
// — and every acknowledged edit is stored once.
func TestForwardNoEngineStarved(t *testing.T) {
	c := newMemCluster()
	t.Cleanup(c.shutdown)
	for i := range 3 {
		if err := c.add(i, syncd.Options{}, func(h syncd.SharedStore) syncd.Store { return slowShared{h} }); err != nil {
			t.Fatal(err)
		}
	}
	mustCommit(t, c.engines[0], "d", merge(`{}`))
	for _, e := range c.engines {
		sub, err := e.Subscribe(ctxT(t), "d", syncd.SubscribeRequest{}, func(*syncd.Event) {})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
	}
	const clients, window = 12, 8
	var (
		measuring atomic.Bool
		inWindow  [3]atomic.Int64
		mu        sync.Mutex
		acked     = map[string]syncd.Op{}
		wg        sync.WaitGroup
	)
	stop := make(chan struct{})
	for k := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := c.engines[k%3]
			slots := make(chan struct{}, window)
			for i := 0; ; i++ {
				select {
				case <-stop:
					for range window { // the edits in flight are answered
						slots <- struct{}{}
					}
					return
				case slots <- struct{}{}:
				}
				client, req := fmt.Sprintf("c%d", k), fmt.Sprintf("r%06d", i)
				e.CommitAsync(context.Background(), "d", idem(client, req, fmt.Sprintf(`{"%s":%d}`, client, i)), func(op *syncd.Op, err error) {
					if err != nil {
						t.Errorf("%s/%s: %v", client, req, err)
					} else {
						if measuring.Load() {
							inWindow[k%3].Add(1)
						}
						mu.Lock()
						acked[client+"/"+req] = *op
						mu.Unlock()
					}
					<-slots
				})
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // contention, then forward mode
	measuring.Store(true)
	time.Sleep(700 * time.Millisecond)
	measuring.Store(false)
	close(stop)
	wg.Wait()
	for i, e := range c.engines {
		s := e.Stats()
		t.Logf("engine %d: %d acknowledged in the window; forwarded %d out, %d in; %d rebases", i, inWindow[i].Load(), s.ForwardsOut, s.ForwardsIn, s.Rebases)
		if inWindow[i].Load() == 0 {
			t.Errorf("engine %d's clients had nothing acknowledged while the others wrote", i)
		}
	}
	stored := requireConverged(t, c.engines, c.engines[0].Store(), "d")
	for key, op := range acked {
		if s := stored[op.Rev-1]; s.ClientID+"/"+s.ClientReqID != key {
			t.Fatalf("%s acknowledged at %d, which holds %s/%s", key, op.Rev, s.ClientID, s.ClientReqID)
		}
	}
	if len(stored) != 1+len(acked) {
		t.Fatalf("store holds %d ops, %d acknowledged", len(stored), len(acked))
	}
}
