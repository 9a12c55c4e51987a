package syncd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/boltstore"
	"github.com/deltasync/syncd/store/memstore"
)

// benchPatches are pre-built ~100-byte merge patches, so the benchmark
// measures the engine (parse, apply, order, commit, acknowledge) and not
// fmt.
var benchPatches = func() []json.RawMessage {
	ps := make([]json.RawMessage, 1024)
	for i := range ps {
		ps[i] = json.RawMessage(fmt.Sprintf(`{"k%d":{"title":"item %d","done":false,"note":"%s"}}`, i%64, i, strings.Repeat("n", 40)))
	}
	return ps
}()

// runCommitters commits b.N edits from `committers` goroutines spread over
// `docs` documents and reports operations per second and, for the store,
// operations per store commit (the group-commit factor).
func runCommitters(b *testing.B, e *syncd.Engine, committers, docs int) {
	b.Helper()
	ctx := context.Background()
	for d := 0; d < docs; d++ { // create documents outside the timing
		if _, err := e.Commit(ctx, fmt.Sprintf("bench/%d", d), syncd.Edit{Patch: json.RawMessage(`{}`)}); err != nil {
			b.Fatal(err)
		}
	}
	before := e.Stats()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for c := 0; c < committers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := fmt.Sprintf("bench/%d", c%docs)
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if _, err := e.Commit(ctx, doc, syncd.Edit{Patch: benchPatches[i%int64(len(benchPatches))]}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	after := e.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	if n := after.Batches - before.Batches; n > 0 {
		b.ReportMetric(float64(after.Records-before.Records)/float64(n), "ops/commit")
	}
}

func BenchmarkCommitMemstore(b *testing.B) {
	for _, committers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("committers=%d", committers), func(b *testing.B) {
			st := memstore.New(memstore.Options{})
			e, _ := syncd.Open(st, syncd.Options{MaxDocSize: 64 << 20})
			defer st.Close()
			defer e.Close()
			runCommitters(b, e, committers, 1)
		})
	}
}

func BenchmarkCommitBolt(b *testing.B) {
	for _, docs := range []int{1, 64} {
		for _, committers := range []int{1, 16, 256} {
			b.Run(fmt.Sprintf("docs=%d/committers=%d", docs, committers), func(b *testing.B) {
				st, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), boltstore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				e, _ := syncd.Open(st, syncd.Options{MaxDocSize: 64 << 20})
				defer st.Close()
				defer e.Close()
				runCommitters(b, e, committers, docs)
			})
		}
	}
}

// BenchmarkSubscribeCatchUp measures a join that is `behind` revisions
// behind, served from the ring or from the store.
func BenchmarkSubscribeCatchUp(b *testing.B) {
	for _, from := range []string{"ring", "store"} {
		for _, behind := range []int{10, 1000} {
			b.Run(fmt.Sprintf("from=%s/behind=%d", from, behind), func(b *testing.B) {
				ring := 2048
				if from == "store" {
					ring = 8
				}
				st := memstore.New(memstore.Options{})
				e, _ := syncd.Open(st, syncd.Options{RingSize: ring, MaxDocSize: 64 << 20})
				defer st.Close()
				defer e.Close()
				ctx := context.Background()
				// A large document, so that deltas win over a snapshot.
				e.Commit(ctx, "d", syncd.Edit{Patch: json.RawMessage(`{"pad":"` + strings.Repeat("p", 1<<20) + `"}`)})
				for i := 0; i < behind; i++ {
					e.Commit(ctx, "d", syncd.Edit{Patch: benchPatches[i%len(benchPatches)]})
				}
				snap, _ := e.State(ctx, "d")
				have := revision.Position{Epoch: snap.Epoch, Rev: snap.Rev - revision.Rev(behind)}
				var ops int
				sink := func(ev *syncd.Event) { ops += len(ev.Ops) }
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					ops = 0
					sub, err := e.Subscribe(ctx, "d", syncd.SubscribeRequest{Have: have}, sink)
					if err != nil {
						b.Fatal(err)
					}
					sub.Close()
					if ops != behind {
						b.Fatalf("caught up with %d ops, want %d", ops, behind)
					}
				}
			})
		}
	}
}

// BenchmarkSubscribeCatchUpCompacted: syncbench's catch-up document (1,000
// members of ~100 bytes) 1,000 merge patches of random members behind,
// from the ring: the deltas (~190 KB) are larger than the snapshot, so
// they are compacted (to ~63 KB) before being chosen.
func BenchmarkSubscribeCatchUpCompacted(b *testing.B) {
	for _, keys := range []string{"random", "roundrobin"} {
		b.Run("keys="+keys, func(b *testing.B) { benchCatchUpCompacted(b, keys == "random") })
	}
}

// benchCatchUpCompacted: 1,000 behind a ~100 KB document of 1,000 keys,
// edited at random keys or at every key in turn; either way the compacted
// deltas carry only the fields whose values changed (each edit rewrites
// pad to what it was), so they are smaller than the snapshot.
//
// Another client stays subscribed while the edits are made, as on a
// server (the writer itself is joined): the document's member index then
// answers the catch-up. BenchmarkComposeMerge (delta) measures composing
// the operations, which a catch-up falls back to.
func benchCatchUpCompacted(b *testing.B, random bool) {
	st := memstore.New(memstore.Options{})
	e, _ := syncd.Open(st, syncd.Options{RingSize: 2048})
	defer st.Close()
	defer e.Close()
	ctx := context.Background()
	live, err := e.Subscribe(ctx, "d", syncd.SubscribeRequest{}, func(*syncd.Event) {})
	if err != nil {
		b.Fatal(err)
	}
	defer live.Close()
	pad := strings.Repeat("x", 80)
	fill := map[string]any{}
	for i := range 1000 {
		fill[fmt.Sprintf("k%d", i)] = map[string]any{"~": 0, "pad": pad}
	}
	p, _ := json.Marshal(fill)
	e.Commit(ctx, "d", syncd.Edit{Patch: p})
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		key := i
		if random {
			key = r.IntN(1000)
		}
		e.Commit(ctx, "d", syncd.Edit{Patch: json.RawMessage(fmt.Sprintf(`{"k%d":{"~":%d,"pad":%q}}`, key, 1795000000000000+i, pad))})
	}
	snap, _ := e.State(ctx, "d")
	have := revision.Position{Epoch: snap.Epoch, Rev: snap.Rev - 1000}
	var combined, snapshots int
	sink := func(ev *syncd.Event) {
		if ev.Kind == syncd.EventSnapshot {
			snapshots++
		}
		for _, op := range ev.Ops {
			if op.FirstRev != 0 {
				combined++
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		combined, snapshots = 0, 0
		sub, err := e.Subscribe(ctx, "d", syncd.SubscribeRequest{Have: have, Compact: true}, sink)
		if err != nil {
			b.Fatal(err)
		}
		sub.Close()
		if combined != 1 || snapshots != 0 {
			b.Fatalf("%d combined operations and %d snapshots, want one combined operation", combined, snapshots)
		}
	}
}

// BenchmarkSubscribeFarBehind compares a catch-up too far behind for
// deltas (answered with a gap and the snapshot after reading one
// operation from the store) with a fresh JOIN (the snapshot alone), on
// bbolt: the first should cost about the second.
func BenchmarkSubscribeFarBehind(b *testing.B) {
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	e, _ := syncd.Open(st, syncd.Options{})
	defer st.Close()
	defer e.Close()
	ctx := context.Background()
	for i := range 5000 {
		if _, err := e.Commit(ctx, "d", syncd.Edit{Patch: json.RawMessage(fmt.Sprintf(`{"k%d":{"~":%d,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}`, i%100, i))}); err != nil {
			b.Fatal(err)
		}
	}
	snap, _ := e.State(ctx, "d")
	for _, c := range []struct {
		name string
		have revision.Position
	}{
		{"fresh", revision.Position{}},
		{"behind=4000", revision.Position{Epoch: snap.Epoch, Rev: snap.Rev - 4000}},
	} {
		b.Run(c.name, func(b *testing.B) {
			snapshots := 0
			sink := func(ev *syncd.Event) {
				if ev.Kind == syncd.EventSnapshot {
					snapshots++
				}
			}
			for b.Loop() {
				sub, err := e.Subscribe(ctx, "d", syncd.SubscribeRequest{Have: c.have, Compact: true}, sink)
				if err != nil {
					b.Fatal(err)
				}
				sub.Close()
			}
			if snapshots != b.N {
				b.Fatalf("%d snapshots in %d catch-ups", snapshots, b.N)
			}
		})
	}
}
