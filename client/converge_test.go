package client_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/client"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/boltstore"
)

// editor makes random edits on one client, each carrying a unique marker
// value, and records which were refused, so that the server's log can be
// checked: every edit not refused appears exactly once, every refused
// edit never.
type editor struct {
	name     string
	doc      *client.Doc
	mu       sync.Mutex
	markers  []string
	rejected map[string]string // marker → code
}

func newEditor(name string, d *client.Doc) *editor {
	e := &editor{name: name, doc: d, rejected: map[string]string{}}
	d.OnReject(func(r client.Rejection) {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, m := range e.markers {
			if strings.Contains(string(r.Patch), `"`+m+`"`) {
				e.rejected[m] = string(r.Code)
			}
		}
	})
	return e
}

// run makes n edits: merge patches and JSON Patches, some to the same
// paths as the other editors (k0…k4), some appending to a shared array.
func (e *editor) run(t testing.TB, rng *rand.Rand, n int, pause time.Duration) {
	for i := range n {
		m := fmt.Sprintf("%s-e%d", e.name, i)
		e.mu.Lock()
		e.markers = append(e.markers, m)
		e.mu.Unlock()
		k := fmt.Sprintf("k%d", rng.IntN(5))
		var err error
		switch rng.IntN(3) {
		case 0:
			_, err = e.doc.Merge(map[string]any{k: m})
		case 1:
			_, err = e.doc.Patch([]map[string]any{{"op": "add", "path": "/" + k, "value": m}})
		default:
			_, err = e.doc.Patch([]map[string]any{{"op": "add", "path": "/list/-", "value": m}})
		}
		if err != nil {
			t.Errorf("%s: edit %d: %v", e.name, i, err)
			return
		}
		if pause > 0 {
			time.Sleep(time.Duration(rng.Int64N(int64(pause))))
		}
	}
}

// checkLog checks the server's log against what the editors did.
func checkLog(t testing.TB, ev *env, doc string, eds []*editor, allowUnknown bool) (committed, refused int) {
	t.Helper()
	ops := ev.ops(doc)
	seen := map[string]bool{}
	var all strings.Builder
	for _, op := range ops {
		if op.ClientID != "" {
			key := op.ClientID + "/" + op.ClientReqID
			if seen[key] {
				t.Errorf("request %s committed twice", key)
			}
			seen[key] = true
		}
		all.Write(op.Payload)
		all.WriteByte('\n')
	}
	log := all.String()
	for _, e := range eds {
		e.mu.Lock()
		for _, m := range e.markers {
			n := strings.Count(log, `"`+m+`"`)
			code, rej := e.rejected[m]
			switch {
			case rej && code == string(client.CodeOutcomeUnknown) && !allowUnknown:
				t.Errorf("edit %s: outcome unknown (a snapshot answered a resume)", m)
			case rej && code != string(client.CodeOutcomeUnknown) && n != 0:
				t.Errorf("edit %s refused (%s) but in the log %d times", m, code, n)
			case !rej && n != 1:
				t.Errorf("edit %s in the log %d times, want exactly once", m, n)
			}
			if rej {
				refused++
			} else {
				committed++
			}
		}
		e.mu.Unlock()
	}
	return committed, refused
}

func testConverge(t *testing.T, clients, edits int) {
	ev := newEnv(t, syncd.Options{}, server.Options{})
	ev.commit("shared", map[string]any{"list": []any{}})
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	var eds []*editor
	var docs []*client.Doc
	for i := range clients {
		c := dial(t, ev.url, nil)
		d := join(t, c, "shared")
		docs = append(docs, d)
		eds = append(eds, newEditor(fmt.Sprintf("c%d", i), d))
	}
	var wg sync.WaitGroup
	for i, e := range eds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.run(t, rand.New(rand.NewPCG(seed, uint64(i))), edits, 3*time.Millisecond)
		}()
	}
	wg.Wait()
	converged(t, ev, "shared", docs...)
	committed, refused := checkLog(t, ev, "shared", eds, false)
	t.Logf("%d clients: %d edits committed, %d refused after retries", clients, committed, refused)
}

func TestConvergeTwoClients(t *testing.T) { testConverge(t, 2, 60) }
func TestConvergeTenClients(t *testing.T) { testConverge(t, 10, 30) }

// TestChaos drops every connection at random moments and restarts the
// server once (bbolt store, so the restart keeps the log) while five
// clients edit; then every view equals the server's and the log holds
// each edit not refused exactly once.
func TestChaos(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syncd.db")
	open := func() *env {
		st, err := boltstore.Open(path, boltstore.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return newEnvStore(t, st, syncd.Options{}, server.Options{})
	}
	ev := open()
	// The padding makes every resume answer deltas (a small document is
	// answered with a snapshot, which hides which edits committed).
	ev.commit("chaos", map[string]any{"list": []any{}, "pad": strings.Repeat("p", 100_000)})
	p := newProxy(t, ev.addr)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 99))
	var eds []*editor
	var docs []*client.Doc
	var reconnects atomic.Int64
	for i := range 5 {
		c := dial(t, p.url, func(o *client.Options) {
			o.OnState = func(s client.State, _ error) {
				if s == client.StateConnected {
					reconnects.Add(1)
				}
			}
		})
		d := join(t, c, "chaos")
		docs = append(docs, d)
		eds = append(eds, newEditor(fmt.Sprintf("x%d", i), d))
	}
	var wg sync.WaitGroup
	for i, e := range eds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.run(t, rand.New(rand.NewPCG(seed, uint64(i))), 60, 16*time.Millisecond)
		}()
	}
	for i := range 8 {
		time.Sleep(time.Duration(50+rng.IntN(100)) * time.Millisecond)
		if i == 4 {
			ev.close()
			ev = open()
			p.setTarget(ev.addr)
			continue
		}
		p.drop()
	}
	wg.Wait()
	converged(t, ev, "chaos", docs...)
	committed, refused := checkLog(t, ev, "chaos", eds, false)
	t.Logf("chaos: %d edits committed, %d refused after retries, %d reconnects", committed, refused, reconnects.Load())
	if reconnects.Load() < 5 {
		t.Errorf("only %d reconnects: the chaos did not happen", reconnects.Load())
	}
}

// TestConvergeStrictPolicy: under the strict policy every edit not based
// on the head is refused ABORTED, so the clients' retries (rebased, under
// new ids) do most of the work; the log still holds each edit that was
// not refused for good exactly once.
func TestConvergeStrictPolicy(t *testing.T) {
	ev := newEnv(t, syncd.Options{Policies: map[string]syncd.Policy{"strict/": syncd.PolicyStrict}}, server.Options{})
	var eds []*editor
	var docs []*client.Doc
	for i := range 3 {
		c := dial(t, ev.url, func(o *client.Options) { o.MaxRetries = 50 })
		d := join(t, c, "strict/doc")
		docs = append(docs, d)
		eds = append(eds, newEditor(fmt.Sprintf("s%d", i), d))
		if i == 0 {
			d.Merge(`{"list":[]}`)
			converged(t, ev, "strict/doc", d)
		}
	}
	var wg sync.WaitGroup
	for i, e := range eds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.run(t, rand.New(rand.NewPCG(7, uint64(i))), 20, 5*time.Millisecond)
		}()
	}
	wg.Wait()
	converged(t, ev, "strict/doc", docs...)
	committed, refused := checkLog(t, ev, "strict/doc", eds, false)
	t.Logf("strict: %d committed, %d refused for good", committed, refused)
	if committed == 0 {
		t.Fatal("nothing committed")
	}
}
