package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/deltasync/syncd"
)

// The syncd.SideStore contract, for stores that implement it. A store that
// does not is skipped: the side store is optional.

func sideOf(t *testing.T, s syncd.Store) syncd.SideStore {
	t.Helper()
	side, ok := s.(syncd.SideStore)
	if !ok {
		t.Skip("the store has no side store")
	}
	return side
}

// testSideStore: get, atomic multi-space writes, deletes, ordered scans
// with paging, and that none of it touches the documents.
func testSideStore(t *testing.T, open Opener) {
	h := newHarness(t, open, Options{})
	side := sideOf(t, h.s)
	h.batch().create("d").mergeN("d", 2).mustCommit()

	if _, err := side.SideGet(h.ctx, "a", "k"); !errors.Is(err, syncd.ErrNotFound) {
		t.Fatalf("SideGet of an absent space: %v, want ErrNotFound", err)
	}
	if got, err := side.SideScan(h.ctx, "a", "", 10); err != nil || len(got) != 0 {
		t.Fatalf("SideScan of an absent space: %v, %v", got, err)
	}
	val := []byte("v1")
	var writes []syncd.SideWrite
	for i := 9; i >= 0; i-- {
		writes = append(writes, syncd.SideWrite{Space: "a", Key: fmt.Sprintf("k%02d", i), Value: val})
	}
	writes = append(writes, syncd.SideWrite{Space: "b", Key: "only", Value: []byte{}})
	if err := side.SideWrite(h.ctx, writes); err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // the store must have copied it
	if v, err := side.SideGet(h.ctx, "a", "k03"); err != nil || string(v) != "v1" {
		t.Fatalf("SideGet k03: %q, %v", v, err)
	}
	if v, err := side.SideGet(h.ctx, "b", "only"); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("SideGet of an empty value: %q, %v (want empty, not absent)", v, err)
	}
	// Paging in key order.
	var keys []string
	after := ""
	for range 10 {
		page, err := side.SideScan(h.ctx, "a", after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			keys = append(keys, e.Key)
		}
		after = page[len(page)-1].Key
	}
	if fmt.Sprint(keys) != "[k00 k01 k02 k03 k04 k05 k06 k07 k08 k09]" {
		t.Fatalf("scanned keys %v", keys)
	}
	// Deletes and puts in one write, applied in order.
	if err := side.SideWrite(h.ctx, []syncd.SideWrite{
		{Space: "a", Key: "k00"}, {Space: "a", Key: "absent"},
		{Space: "a", Key: "k01", Value: []byte("v2")}, {Space: "a", Key: "k01", Value: []byte("v3")},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := side.SideGet(h.ctx, "a", "k00"); !errors.Is(err, syncd.ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	if v, _ := side.SideGet(h.ctx, "a", "k01"); string(v) != "v3" {
		t.Fatalf("k01 = %q, want the last write's v3", v)
	}
	// A malformed write fails whole.
	if err := side.SideWrite(h.ctx, []syncd.SideWrite{{Space: "a", Key: "k05"}, {Space: "", Key: "x", Value: []byte("1")}}); err == nil {
		t.Fatal("a write without a space was accepted")
	}
	if _, err := side.SideGet(h.ctx, "a", "k05"); err != nil {
		t.Fatalf("a failed write applied its first part: %v", err)
	}
	if _, err := side.SideScan(h.ctx, "a", "", 0); err == nil {
		t.Fatal("SideScan with limit 0 was accepted")
	}
}

// testSideStoreReopen: side writes survive a reopen (stores whose data
// does not survive one are not run with the persistent cases).
func testSideStoreReopen(t *testing.T, open Opener, reopen Reopener) {
	h := newHarness(t, open, Options{})
	side := sideOf(t, h.s)
	if err := side.SideWrite(h.ctx, []syncd.SideWrite{{Space: "s", Key: "k", Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	h.reopen(t, reopen)
	side = sideOf(t, h.s)
	if v, err := side.SideGet(h.ctx, "s", "k"); err != nil || string(v) != "v" {
		t.Fatalf("after reopening: %q, %v", v, err)
	}
}
