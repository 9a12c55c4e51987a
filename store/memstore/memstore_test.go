package memstore_test

import (
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/memstore"
	"github.com/deltasync/syncd/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, o storetest.Options) syncd.Store {
		return memstore.New(memstore.Options{Retention: o.Retention})
	})
}

func TestCloseTwice(t *testing.T) {
	s := memstore.New(memstore.Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Load(t.Context(), "doc"); err == nil {
		t.Fatal("Load after Close succeeded")
	}
}

// TestSharedConformance runs the multi-writer cases on two handles of one
// shared log, as two engines of the engine's tests use it.
func TestSharedConformance(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (a, b syncd.SharedStore) {
		sh := memstore.NewShared(memstore.Options{})
		// The suite closes the handles; the log goes after them.
		t.Cleanup(func() {
			if err := sh.Close(); err != nil {
				t.Errorf("closing the shared log: %v", err)
			}
		})
		return sh.Open(), sh.Open()
	})
}

// TestSharedHandleConformance runs the single-writer cases on one handle
// of a shared log: a handle is a Store too, with the differences a shared
// store makes (storetest's harness expects them of a syncd.SharedStore).
func TestSharedHandleConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, o storetest.Options) syncd.Store {
		sh := memstore.NewShared(memstore.Options{Retention: o.Retention})
		t.Cleanup(func() {
			if err := sh.Close(); err != nil {
				t.Errorf("closing the shared log: %v", err)
			}
		})
		return sh.Open()
	})
}
