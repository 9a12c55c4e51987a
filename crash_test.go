package syncd_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/boltstore"
	"github.com/deltasync/syncd/store/storetest"
)

// The crash test proves "durable before acknowledged" with real crashes: a
// child process (this test binary, re-executed) commits from many
// goroutines to a bbolt store and prints every acknowledged operation; the
// parent kills it with SIGKILL at a random moment, reopens the store, and
// checks that every acknowledged operation is there with identical content,
// that revisions are contiguous and that the store's invariants hold.

const crashChildEnv = "SYNCD_CRASH_CHILD_DB"

// crashKills is how many times the parent kills a child: at least 20 per
// CI run, as the engine's issue asks.
const crashKills = 20

func TestCrashRecovery(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path, os.Getenv("SYNCD_CRASH_RUN"))
		return
	}
	if testing.Short() {
		t.Skip("crash test re-executes the test binary; skipped with -short")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "crash.db")
	seed := time.Now().UnixNano()
	t.Logf("crash test seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))

	total := 0
	for kill := 0; kill < crashKills; kill++ {
		acks := runAndKill(t, db, kill, time.Duration(20+rng.IntN(180))*time.Millisecond)
		total += len(acks)
		verifyAcked(t, db, acks)
	}
	t.Logf("%d kills, %d acknowledged operations verified", crashKills, total)
	if total == 0 {
		t.Fatal("the children acknowledged nothing: the test proved nothing")
	}
}

// ack is one acknowledged operation as the child printed it.
type ack struct {
	doc     string
	rev     revision.Rev
	client  string
	req     string
	payload string
}

// runAndKill starts a child on db, lets it run for about d after its first
// acknowledgement, kills it with SIGKILL and returns what it acknowledged.
func runAndKill(t *testing.T, db string, run int, d time.Duration) []ack {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$", "-test.v=false")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+db, fmt.Sprintf("SYNCD_CRASH_RUN=%d", run))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		acks  []ack
		first = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			f := strings.SplitN(sc.Text(), " ", 6)
			if len(f) != 6 || f[0] != "ACK" {
				continue // a line cut by the kill, or test output
			}
			r, err := revision.ParseRev(f[2])
			if err != nil {
				continue
			}
			mu.Lock()
			acks = append(acks, ack{doc: f[1], rev: r, client: f[3], req: f[4], payload: f[5]})
			mu.Unlock()
			once.Do(func() { close(first) })
		}
	}()
	select {
	case <-first:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child acknowledged nothing in 60s")
	}
	time.Sleep(d)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	cmd.Wait()
	mu.Lock()
	defer mu.Unlock()
	return acks
}

// verifyAcked reopens db and checks every acknowledged operation.
func verifyAcked(t *testing.T, db string, acks []ack) {
	t.Helper()
	ctx := context.Background()
	st, err := boltstore.Open(db, boltstore.Options{})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer st.Close()
	if err := storetest.Check(ctx, st); err != nil {
		t.Fatalf("store invariants after kill: %v", err)
	}
	e, err := syncd.Open(st, syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, a := range acks {
		rng, err := e.ReadOps(ctx, a.doc, a.rev-1, 1)
		ops := rng.Ops
		if err != nil || len(ops) != 1 {
			t.Fatalf("acknowledged %s@%d is missing after a kill: %v", a.doc, a.rev, err)
		}
		op := ops[0]
		if op.Rev != a.rev || op.ClientID != a.client || op.ClientReqID != a.req || string(op.Payload) != a.payload {
			t.Fatalf("acknowledged %+v, stored %+v (payload %s)", a, op, op.Payload)
		}
		// The decision is durable too: resending the id is a duplicate.
		_, err = e.Commit(ctx, a.doc, syncd.Edit{ClientID: a.client, ReqID: a.req, Patch: json.RawMessage(`{"resent":true}`)})
		if syncd.CodeOf(err) != syncd.CodeDuplicate {
			t.Fatalf("resending acknowledged %s/%s: %v", a.client, a.req, err)
		}
	}
	// Loading every document replays snapshot + tail and checks that the
	// log is contiguous up to the head.
	metas, err := e.List(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metas {
		snap, err := e.State(ctx, m.Doc)
		if err != nil || snap.Rev != m.Head {
			t.Fatalf("%s: snapshot %v at %d, head %d", m.Doc, err, snap.Rev, m.Head)
		}
	}
}

// crashChild commits from many goroutines until it is killed, printing each
// acknowledged operation on its own line once Commit has returned.
func crashChild(db, run string) {
	// A small journal makes kills land in and around checkpoints (which
	// move the journal into the documents' logs) as well as in appends.
	// Small log segments make kills land around the hand-over from one
	// segment to the other (the log's truncation), and a short apply
	// interval around the applier's transactions, as well as in appends
	// to the log.
	st, err := boltstore.Open(db, boltstore.Options{JournalOps: 97, LogSegmentBytes: 16 << 10, ApplyInterval: time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	// A small snapshot interval makes kills land around snapshots too.
	e, err := syncd.Open(st, syncd.Options{SnapshotInterval: 50})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	var out sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := fmt.Sprintf("run%s-w%d", run, g)
			doc := fmt.Sprintf("crash/%d", g%4)
			for i := 1; ; i++ {
				payload := fmt.Sprintf(`{"w%d":{"i":%d,"pad":"%s"}}`, g, i, strings.Repeat("z", i%64))
				req := fmt.Sprintf("%08d", i)
				op, err := e.Commit(context.Background(), doc, syncd.Edit{ClientID: client, ReqID: req, Patch: json.RawMessage(payload)})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child commit:", err)
					os.Exit(3)
				}
				out.Lock()
				fmt.Fprintf(w, "ACK %s %d %s %s %s\n", doc, op.Rev, client, req, op.Payload)
				w.Flush()
				out.Unlock()
			}
		}()
	}
	wg.Wait()
}
