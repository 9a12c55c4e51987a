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
