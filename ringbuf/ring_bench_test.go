package ringbuf_test

import (
	"testing"

	"github.com/deltasync/syncd/ringbuf"
)

// benchOp has the shape of what the engine keeps: a revision and a pointer
// to encoded bytes.
type benchOp struct {
	rev  uint64
	data []byte
}

const benchCap = 1024

func fullRing() *ringbuf.Ring[benchOp] {
	r := ringbuf.New[benchOp](benchCap, 1)
	data := make([]byte, 64)
	// A little over one ring's worth: the window wraps the backing array and
	// the newest 50 entries sit at its start, so a range of the last 100
	// crosses the physical end.
	for i := range benchCap + 50 {
		r.Push(benchOp{rev: uint64(i + 1), data: data})
	}
	return r
}

func BenchmarkPush(b *testing.B) {
	r := fullRing()
	v := benchOp{data: make([]byte, 64)}
	b.ReportAllocs()
	for b.Loop() {
		r.Push(v)
	}
}

// BenchmarkFillFromEmpty pushes a new ring full, which is what a document
// loaded fresh costs over its first benchCap operations: BenchmarkPush (a
// full ring) is the steady state, this is the growth the backing array
// goes through first. ns/op and allocs/op are per ring filled. The ring is
// kept in a package variable, as the engine keeps it in a document, so that
// it lives on the heap whatever the compiler could prove about it.
func BenchmarkFillFromEmpty(b *testing.B) {
	v := benchOp{data: make([]byte, 64)}
	b.ReportAllocs()
	for b.Loop() {
		filled = ringbuf.New[benchOp](benchCap, 1)
		for range benchCap {
			filled.Push(v)
		}
	}
}

var filled *ringbuf.Ring[benchOp]

func BenchmarkGet(b *testing.B) {
	r := fullRing()
	first := r.First()
	var sink benchOp
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		sink, _ = r.Get(first + i%benchCap)
		i++
	}
	_ = sink
}

// BenchmarkSlices asks for the last 100 entries, a typical catch-up, with the
// window placed so that the range crosses the end of the backing array.
func BenchmarkSlices(b *testing.B) {
	r := fullRing()
	from, to := r.Last()-99, r.Last()
	if _, y, _ := r.Slices(from, to); len(y) == 0 {
		b.Fatal("benchmark range does not cross the wrap")
	}
	var n int
	b.ReportAllocs()
	for b.Loop() {
		x, y, _ := r.Slices(from, to)
		n += len(x) + len(y)
	}
	_ = n
}
