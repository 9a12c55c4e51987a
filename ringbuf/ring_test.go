package ringbuf_test

import (
	"math"
	"slices"
	"testing"

	"github.com/deltasync/syncd/ringbuf"
)

// contents returns what Slices reports for from..to, joined.
func contents[T any](r *ringbuf.Ring[T], from, to uint64) ([]T, bool) {
	a, b, ok := r.Slices(from, to)
	if !ok {
		return nil, false
	}
	return slices.Concat(a, b), true
}

// checkRing checks every accessor of r against the expected window: entries
// want, the oldest numbered first, and the next push numbered first+len(want).
func checkRing(t *testing.T, r *ringbuf.Ring[int], first uint64, want []int) {
	t.Helper()
	next := first + uint64(len(want))
	if got := r.First(); got != first {
		t.Errorf("First() = %d, want %d", got, first)
	}
	if got := r.Next(); got != next {
		t.Errorf("Next() = %d, want %d", got, next)
	}
	if got := r.Last(); got != next-1 {
		t.Errorf("Last() = %d, want %d", got, next-1)
	}
	if got := r.Len(); got != len(want) {
		t.Errorf("Len() = %d, want %d", got, len(want))
	}
	if err := ringbuf.CheckInvariants(r); err != nil {
		t.Errorf("invariant: %v", err)
	}
	// Get around the window, including just outside both ends.
	lo := first - min(first, 2)
	hi := next + min(math.MaxUint64-next, 2)
	for seq := lo; ; seq++ {
		v, ok := r.Get(seq)
		held := seq >= first && seq < next
		switch {
		case ok != held:
			t.Errorf("Get(%d) ok = %v, want %v", seq, ok, held)
		case held && v != want[seq-first]:
			t.Errorf("Get(%d) = %d, want %d", seq, v, want[seq-first])
		case !held && v != 0:
			t.Errorf("Get(%d) = %d for a sequence not held, want zero value", seq, v)
		}
		if seq == hi {
			break
		}
	}
	if len(want) > 0 {
		got, ok := contents(r, first, next-1)
		if !ok || !slices.Equal(got, want) {
			t.Errorf("Slices(%d, %d) = %v, %v; want %v, true", first, next-1, got, ok, want)
		}
	}
	var seqs []uint64
	var vals []int
	for seq, v := range r.All() {
		seqs = append(seqs, seq)
		vals = append(vals, v)
	}
	if !slices.Equal(vals, want) {
		t.Errorf("All() values = %v, want %v", vals, want)
	}
	for i, seq := range seqs {
		if seq != first+uint64(i) {
			t.Errorf("All() sequence %d = %d, want %d", i, seq, first+uint64(i))
		}
	}
}

func pushN(r *ringbuf.Ring[int], from, to int) {
	for v := from; v <= to; v++ {
		r.Push(v)
	}
}

func TestRingEdges(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		next     uint64
		setup    func(r *ringbuf.Ring[int])
		first    uint64
		want     []int
	}{
		{name: "empty", capacity: 4, next: 1, setup: func(*ringbuf.Ring[int]) {}, first: 1},
		{name: "empty at zero", capacity: 4, next: 0, setup: func(*ringbuf.Ring[int]) {}, first: 0},
		{name: "one", capacity: 4, next: 1, setup: func(r *ringbuf.Ring[int]) { r.Push(10) }, first: 1, want: []int{10}},
		{name: "capacity one, replaced", capacity: 1, next: 5,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 3) }, first: 7, want: []int{3}},
		{name: "full", capacity: 4, next: 1,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 4) }, first: 1, want: []int{1, 2, 3, 4}},
		{name: "one evicted", capacity: 4, next: 1,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 5) }, first: 2, want: []int{2, 3, 4, 5}},
		{name: "wrapped many times", capacity: 3, next: 100,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 11) }, first: 108, want: []int{9, 10, 11}},
		{name: "reset", capacity: 4, next: 1,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 6); r.Reset(50) }, first: 50},
		{name: "reset then push", capacity: 4, next: 1,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 6); r.Reset(50); pushN(r, 7, 8) }, first: 50, want: []int{7, 8}},
		{name: "reset backwards", capacity: 4, next: 1000,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 3); r.Reset(2); r.Push(9) }, first: 2, want: []int{9}},
		{name: "truncate after last is a no-op", capacity: 4, next: 10,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 6); r.TruncateAfter(15) }, first: 12, want: []int{3, 4, 5, 6}},
		{name: "truncate beyond next does not leave a gap", capacity: 4, next: 10,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 6); r.TruncateAfter(20) }, first: 12, want: []int{3, 4, 5, 6}},
		{name: "truncate at max uint64 is a no-op", capacity: 4, next: 10,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 6); r.TruncateAfter(math.MaxUint64) }, first: 12, want: []int{3, 4, 5, 6}},
		{name: "truncate one", capacity: 4, next: 10,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 6); r.TruncateAfter(14) }, first: 12, want: []int{3, 4, 5}},
		{name: "truncate across the physical wrap", capacity: 4, next: 10,
			// Holds 12…15 in slots 2,3,0,1; dropping 13…15 clears 3, 0, 1.
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 6); r.TruncateAfter(12) }, first: 12, want: []int{3}},
		{name: "truncate to first-1 empties", capacity: 4, next: 10,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 6); r.TruncateAfter(11) }, first: 12},
		{name: "truncate below the window empties and rewinds", capacity: 4, next: 10,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 6); r.TruncateAfter(5) }, first: 6},
		{name: "truncate to zero", capacity: 4, next: 10,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 6); r.TruncateAfter(0) }, first: 1},
		{name: "truncate then push reuses the numbers", capacity: 4, next: 10,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 6); r.TruncateAfter(13); pushN(r, 7, 9) }, first: 13, want: []int{4, 7, 8, 9}},
		{name: "truncate on empty ring at zero is a no-op", capacity: 4, next: 0,
			setup: func(r *ringbuf.Ring[int]) { r.TruncateAfter(5) }, first: 0},
		{name: "truncate on empty ring rewinds", capacity: 4, next: 10,
			setup: func(r *ringbuf.Ring[int]) { r.TruncateAfter(5) }, first: 6},
		{name: "near the top of the sequence space", capacity: 2, next: math.MaxUint64 - 3,
			setup: func(r *ringbuf.Ring[int]) { pushN(r, 1, 3) }, first: math.MaxUint64 - 2, want: []int{2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ringbuf.New[int](tt.capacity, tt.next)
			tt.setup(r)
			if got := r.Cap(); got != tt.capacity {
				t.Errorf("Cap() = %d, want %d", got, tt.capacity)
			}
			checkRing(t, r, tt.first, tt.want)
		})
	}
}

func TestPushReturnsSequence(t *testing.T) {
	r := ringbuf.New[string](2, 7)
	for i, want := range []uint64{7, 8, 9, 10} {
		if got := r.Push("x"); got != want {
			t.Errorf("push %d returned %d, want %d", i, got, want)
		}
	}
}

// TestSlicesAcrossWrap pins down how a range splits: b is used only when the
// range crosses the physical end of the backing array.
func TestSlicesAcrossWrap(t *testing.T) {
	// Capacity 4, sequences 10…15 pushed: 12…15 held, in slots 2, 3, 0, 1.
	r := ringbuf.New[int](4, 10)
	for seq := 10; seq <= 15; seq++ {
		r.Push(seq * 10)
	}
	tests := []struct {
		from, to uint64
		a, b     []int
	}{
		{12, 15, []int{120, 130}, []int{140, 150}},
		{13, 14, []int{130}, []int{140}},
		{12, 13, []int{120, 130}, nil},
		{14, 15, []int{140, 150}, nil},
		{13, 13, []int{130}, nil},
		{14, 14, []int{140}, nil},
	}
	for _, tt := range tests {
		a, b, ok := r.Slices(tt.from, tt.to)
		if !ok || !slices.Equal(a, tt.a) || !slices.Equal(b, tt.b) || (tt.b == nil) != (b == nil) {
			t.Errorf("Slices(%d, %d) = %v, %v, %v; want %v, %v, true", tt.from, tt.to, a, b, ok, tt.a, tt.b)
		}
		if cap(a) != len(a) || cap(b) != len(b) {
			t.Errorf("Slices(%d, %d): cap(a), cap(b) = %d, %d; want clipped to %d, %d",
				tt.from, tt.to, cap(a), cap(b), len(a), len(b))
		}
	}
}

func TestSlicesNotHeld(t *testing.T) {
	r := ringbuf.New[int](4, 10)
	pushN(r, 1, 6) // holds 12…15
	for _, rg := range [][2]uint64{{11, 12}, {11, 15}, {15, 16}, {16, 16}, {0, 100}, {0, math.MaxUint64}, {3, 5}} {
		a, b, ok := r.Slices(rg[0], rg[1])
		if ok || a != nil || b != nil {
			t.Errorf("Slices(%d, %d) = %v, %v, %v; want nil, nil, false", rg[0], rg[1], a, b, ok)
		}
		called := false
		if r.Range(rg[0], rg[1], func(uint64, int) bool { called = true; return true }) || called {
			t.Errorf("Range(%d, %d) = true or called fn; want false without calls", rg[0], rg[1])
		}
	}
}

// An empty range is fine whatever the ring holds, so "everything after the
// newest revision" needs no special case in the engine.
func TestEmptyRange(t *testing.T) {
	r := ringbuf.New[int](4, 10)
	for _, rg := range [][2]uint64{{10, 9}, {100, 50}, {math.MaxUint64, 0}} {
		if a, b, ok := r.Slices(rg[0], rg[1]); !ok || a != nil || b != nil {
			t.Errorf("empty ring: Slices(%d, %d) = %v, %v, %v; want nil, nil, true", rg[0], rg[1], a, b, ok)
		}
		if !r.Range(rg[0], rg[1], func(uint64, int) bool { t.Error("fn called for empty range"); return true }) {
			t.Errorf("Range(%d, %d) = false for an empty range", rg[0], rg[1])
		}
	}
	pushN(r, 1, 3)
	if a, b, ok := r.Slices(r.Last()+1, r.Last()); !ok || a != nil || b != nil {
		t.Errorf("Slices(Last()+1, Last()) = %v, %v, %v; want nil, nil, true", a, b, ok)
	}
}

// TestSlicesAlias checks that Slices hands out the ring's own storage (no
// copy) and that appending to a result cannot overwrite a neighbour.
func TestSlicesAlias(t *testing.T) {
	r := ringbuf.New[int](4, 1)
	pushN(r, 1, 3) // slots 0, 1, 2 hold 1, 2, 3
	a, _, _ := r.Slices(1, 2)
	a[0] = 99
	if v, _ := r.Get(1); v != 99 {
		t.Errorf("after writing through Slices, Get(1) = %d, want 99", v)
	}
	_ = append(a, -1) // must reallocate: cap(a) == len(a)
	if v, _ := r.Get(3); v != 3 {
		t.Errorf("append to a Slices result overwrote Get(3): %d", v)
	}
}

func TestRangeStopsEarly(t *testing.T) {
	r := ringbuf.New[int](4, 10)
	pushN(r, 1, 6) // holds 12…15 = 3, 4, 5, 6, wrapped
	var seqs []uint64
	var vals []int
	ok := r.Range(12, 15, func(seq uint64, v int) bool {
		seqs = append(seqs, seq)
		vals = append(vals, v)
		return len(vals) < 3 // stop on the third, which is past the wrap
	})
	if !ok || !slices.Equal(seqs, []uint64{12, 13, 14}) || !slices.Equal(vals, []int{3, 4, 5}) {
		t.Errorf("Range stopped early = %v, seqs %v, vals %v; want true, [12 13 14], [3 4 5]", ok, seqs, vals)
	}
	n := 0
	for range r.All() {
		n++
		break
	}
	if n != 1 {
		t.Errorf("break out of All() after %d, want 1", n)
	}
}

func TestNewPanicsOnBadCapacity(t *testing.T) {
	for _, c := range []int{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%d, 0) did not panic", c)
				}
			}()
			ringbuf.New[int](c, 0)
		}()
	}
}

func TestPushPanicsWhenSequenceExhausted(t *testing.T) {
	r := ringbuf.New[int](4, math.MaxUint64-1)
	if got := r.Push(1); got != math.MaxUint64-1 {
		t.Fatalf("Push = %d, want MaxUint64-1", got)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Push at Next() == MaxUint64 did not panic")
			}
		}()
		r.Push(2)
	}()
	// The failed push changed nothing.
	checkRing(t, r, math.MaxUint64-1, []int{1})
}

// TestDroppedSlotsAreZeroed uses pointers, the case that matters for the
// garbage collector: after Reset or TruncateAfter no free slot may keep a
// dropped value reachable.
func TestDroppedSlotsAreZeroed(t *testing.T) {
	fill := func() *ringbuf.Ring[*[1 << 10]byte] {
		r := ringbuf.New[*[1 << 10]byte](4, 1)
		for range 6 {
			r.Push(new([1 << 10]byte))
		}
		return r
	}
	r := fill()
	r.Reset(1)
	if err := ringbuf.CheckInvariants(r); err != nil {
		t.Errorf("after Reset: %v", err)
	}
	for _, seq := range []uint64{0, 3, 4, 5, 6} {
		r := fill()
		r.TruncateAfter(seq)
		if err := ringbuf.CheckInvariants(r); err != nil {
			t.Errorf("after TruncateAfter(%d): %v", seq, err)
		}
	}
}

// The engine pushes under the document lock on every edit. Once the backing
// array has grown to the capacity, Push and the lookups must not allocate.
func TestNoAllocations(t *testing.T) {
	type op struct {
		rev  uint64
		data []byte
	}
	r := ringbuf.New[op](64, 1)
	v := op{rev: 1, data: make([]byte, 16)}
	for range 64 {
		r.Push(v)
	}
	if n := testing.AllocsPerRun(1000, func() { r.Push(v) }); n != 0 {
		t.Errorf("Push allocates %v times per call, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { r.Get(r.Last() - 10) }); n != 0 {
		t.Errorf("Get allocates %v times per call, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { r.Slices(r.First()+3, r.Last()) }); n != 0 {
		t.Errorf("Slices allocates %v times per call, want 0", n)
	}
	p := new(int)
	rp := ringbuf.New[*int](8, 1)
	for range 8 {
		rp.Push(p)
	}
	if n := testing.AllocsPerRun(1000, func() { rp.Push(p) }); n != 0 {
		t.Errorf("Push of a pointer allocates %v times per call, want 0", n)
	}
}

// TestGrowsAsPushed: New allocates nothing, the backing array doubles from
// 4 as entries arrive and stops at the capacity (1,000 here, not a power of
// two), so that a document with a few operations pays for a few slots. The
// entries survive each move, and Reset keeps the array for reuse.
func TestGrowsAsPushed(t *testing.T) {
	const capacity = 1000
	r := ringbuf.New[int](capacity, 1)
	if got := ringbuf.Allocated(r); got != 0 {
		t.Fatalf("New allocated %d slots, want 0", got)
	}
	wantAlloc := func(pushed int) int {
		size := 0
		for size < pushed {
			size = max(2*size, 4)
		}
		return min(size, capacity)
	}
	allocs := 0
	for v := 1; v <= capacity+10; v++ {
		before := ringbuf.Allocated(r)
		r.Push(v)
		if ringbuf.Allocated(r) != before {
			allocs++
		}
		if got, want := ringbuf.Allocated(r), wantAlloc(min(v, capacity)); got != want {
			t.Fatalf("after %d pushes: %d slots allocated, want %d", v, got, want)
		}
		if v == 3 || v == 5 || v == 9 || v == 513 || v == capacity || v == capacity+10 {
			first := max(1, v-capacity+1)
			want := make([]int, 0, capacity)
			for w := first; w <= v; w++ {
				want = append(want, w)
			}
			checkRing(t, r, uint64(first), want)
		}
	}
	// 4, 8, …, 512, then 1000: nine arrays in all.
	if allocs != 9 {
		t.Errorf("the backing array was allocated %d times, want 9", allocs)
	}
	r.Reset(5000)
	if got := ringbuf.Allocated(r); got != capacity {
		t.Errorf("Reset dropped the backing array: %d slots, want %d", got, capacity)
	}
	pushN(r, 1, 3)
	checkRing(t, r, 5000, []int{1, 2, 3})
}

// TestGrowAfterTruncate: a ring truncated back before it was full grows
// again from where it is, keeping the entries that remain.
func TestGrowAfterTruncate(t *testing.T) {
	r := ringbuf.New[int](16, 1)
	pushN(r, 1, 8) // 8 slots
	r.TruncateAfter(2)
	pushN(r, 3, 12) // 2 held + 10 pushed: grows to 16
	want := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	checkRing(t, r, 1, want)
	if got := ringbuf.Allocated(r); got != 16 {
		t.Errorf("%d slots allocated, want 16", got)
	}
}
