package syncd_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/deltasync/syncd"
)

// LoadedDocs reports what the admin page shows of each loaded document:
// revisions, size, subscribers, presence, ring use, last commit, policy.
func TestLoadedDocsDescribesEachDocument(t *testing.T) {
	e, _ := open(t, syncd.Options{Policies: map[string]syncd.Policy{"s/": syncd.PolicyStrict}})
	ctx := ctxT(t)
	before := time.Now().Add(-time.Second)
	mustCommit(t, e, "b/doc", merge(`{"a":1}`))
	mustCommit(t, e, "b/doc", merge(`{"b":2}`))
	mustCommit(t, e, "s/strict", syncd.Edit{Patch: json.RawMessage(`{"x":true}`), HasBase: true})
	sub, err := e.Subscribe(ctx, "b/doc", syncd.SubscribeRequest{}, func(*syncd.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := e.SetPresence(ctx, "b/doc", "c-1", json.RawMessage(`{"name":"Ada"}`)); err != nil {
		t.Fatal(err)
	}

	docs := e.LoadedDocs()
	if len(docs) != 2 || docs[0].ID != "b/doc" || docs[1].ID != "s/strict" {
		t.Fatalf("LoadedDocs = %+v, want b/doc and s/strict in order", docs)
	}
	b := docs[0]
	if b.Head != 2 || b.Durable != 2 || b.Subscribers != 1 || b.Present != 1 || b.RingLen != 2 || b.RingCap < 2 {
		t.Errorf("b/doc = %+v, want head and durable 2, 1 subscriber, 1 present, 2 ops in the ring", b)
	}
	if b.Size != len(`{"a":1,"b":2}`) {
		t.Errorf("b/doc size %d, want %d", b.Size, len(`{"a":1,"b":2}`))
	}
	if b.LastCommit.Before(before) || b.LastCommit.After(time.Now().Add(time.Second)) {
		t.Errorf("b/doc last commit %v, want about now", b.LastCommit)
	}
	if b.Policy != syncd.PolicyRebase || docs[1].Policy != syncd.PolicyStrict {
		t.Errorf("policies %v and %v, want rebase and strict", b.Policy, docs[1].Policy)
	}
	if b.Cost <= 0 {
		t.Errorf("b/doc cost %d, want > 0", b.Cost)
	}

	// A deleted document is no longer listed.
	if err := e.Delete(ctx, "s/strict"); err != nil {
		t.Fatal(err)
	}
	if docs := e.LoadedDocs(); len(docs) != 1 || docs[0].ID != "b/doc" {
		t.Fatalf("after a deletion LoadedDocs = %+v, want only b/doc", docs)
	}
}

// LoadedDocs may run while documents are edited, subscribed to and
// unloaded: under -race this checks that it reads under the right locks.
func TestLoadedDocsDuringEdits(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	ctx := ctxT(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := []string{"r/a", "r/b", "r/c"}[w]
			for i := 0; i < 200; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.Commit(ctx, doc, merge(`{"n":1}`)); err != nil {
					t.Error(err)
					return
				}
				if s, err := e.Subscribe(ctx, doc, syncd.SubscribeRequest{}, func(*syncd.Event) {}); err == nil {
					s.Close()
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		for _, d := range e.LoadedDocs() {
			if d.Head < d.Durable {
				t.Fatalf("%s: head %d behind durable %d", d.ID, d.Head, d.Durable)
			}
		}
	}
	close(stop)
	wg.Wait()
}
