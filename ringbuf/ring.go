package ringbuf

import (
	"iter"
	"math"
)

// Ring is a bounded buffer of the most recent entries of a sequence,
// addressed by sequence number. The zero Ring is not usable; call [New].
//
// Its backing array grows with the entries pushed, doubling from
// minAlloc up to the capacity, rather than being allocated whole by New:
// the engine keeps a ring per loaded document, and most documents never
// see enough operations to fill one.
//
// A Ring is not safe for concurrent use; see the package documentation.
type Ring[T any] struct {
	// buf is the backing array, len(buf) <= capacity; nil until the first
	// Push. It grows (see grow) only while the ring has never evicted, so
	// a grown array is always entered with head == 0.
	buf []T
	// capacity is the most entries the ring holds; len(buf) reaches it
	// once that many have been pushed.
	capacity int
	// head is the index in buf of the oldest held entry (meaningful only
	// when n > 0, but always kept in [0, len(buf)), or 0 while buf is
	// empty).
	head int
	// n is the number of held entries, 0 <= n <= len(buf).
	n int
	// next is the sequence number the next Push assigns. The held entries
	// are next-n … next-1; storing next rather than the first sequence
	// makes the empty ring need no special case.
	next uint64
}

// minAlloc is the backing array's first length: small enough that a ring
// pushed to a handful of times costs a handful of slots.
const minAlloc = 4

// New returns an empty ring that holds up to capacity entries and whose first
// Push is assigned sequence number next. It allocates no backing array; the
// pushes do, as they need it. It panics if capacity <= 0, which is a
// programming error rather than a run-time condition.
func New[T any](capacity int, next uint64) *Ring[T] {
	if capacity <= 0 {
		panic("ringbuf: capacity must be positive")
	}
	return &Ring[T]{capacity: capacity, next: next}
}

// Push appends v, evicting the oldest entry if the ring is full, and returns
// the sequence number assigned to v. Until the ring first holds Cap()
// entries, a Push that finds the backing array full grows it (doubling, up
// to Cap()), so pushes allocate O(log Cap()) times in all; once the array
// is Cap() long, Push never allocates.
//
// Push panics if Next() is math.MaxUint64: the sequence space is exhausted,
// and wrapping to 0 would silently reorder the history (see the package
// documentation on wrap-around).
func (r *Ring[T]) Push(v T) uint64 {
	if r.next == math.MaxUint64 {
		panic("ringbuf: sequence number space exhausted")
	}
	if r.n == len(r.buf) && len(r.buf) < r.capacity {
		r.grow()
	}
	i := r.index(r.n) // one past the newest; when full, that is the oldest
	r.buf[i] = v
	if r.n == len(r.buf) {
		// Full: the slot just overwritten was the oldest, so the window
		// slides by one. Nothing to zero, the new value took its place.
		r.head++
		if r.head == len(r.buf) {
			r.head = 0
		}
	} else {
		r.n++
	}
	seq := r.next
	r.next++
	return seq
}

// Get returns the entry with sequence number seq. ok is false, and the value
// is T's zero value, if seq has been evicted or not yet pushed.
func (r *Ring[T]) Get(seq uint64) (v T, ok bool) {
	// Unsigned subtraction: a seq before the window wraps to a huge offset,
	// so one comparison rejects both sides.
	off := seq - r.first()
	if off >= uint64(r.n) {
		return v, false
	}
	return r.buf[r.index(int(off))], true
}

// Slices returns the entries with from <= seq <= to, in sequence order, as at
// most two sub-slices of the ring's backing array: a holds the first part
// and b, non-nil only when the range crosses the physical end of the array,
// the rest. Nothing is copied, so the slices are valid only until the next
// Push, Reset or TruncateAfter, and writing to them writes to the ring. Their
// capacity is clipped to their length, so appending to one copies rather than
// overwriting a neighbouring slot.
//
// An empty range (from > to) returns nil, nil, true whatever the ring holds.
// Otherwise ok is false, and a and b are nil, unless every sequence number in
// the range is held. To get everything after revision rev, call
// Slices(rev+1, r.Last()); that is ok with empty slices when rev is the
// newest entry, and not ok when rev+1 has been evicted.
func (r *Ring[T]) Slices(from, to uint64) (a, b []T, ok bool) {
	if from > to {
		return nil, nil, true
	}
	start, count, ok := r.span(from, to)
	if !ok {
		return nil, nil, false
	}
	if end := start + count; end <= len(r.buf) {
		return r.buf[start:end:end], nil, true
	}
	rest := start + count - len(r.buf)
	return r.buf[start:len(r.buf):len(r.buf)], r.buf[0:rest:rest], true
}

// Range calls fn for each entry with from <= seq <= to, in sequence order,
// until fn returns false. It returns false, without calling fn, if any part
// of a non-empty range is not held; an empty range (from > to) returns true.
// Stopping early still returns true. fn must not modify the ring.
func (r *Ring[T]) Range(from, to uint64, fn func(seq uint64, v T) bool) bool {
	a, b, ok := r.Slices(from, to)
	if !ok {
		return false
	}
	seq := from
	for _, v := range a {
		if !fn(seq, v) {
			return true
		}
		seq++
	}
	for _, v := range b {
		if !fn(seq, v) {
			return true
		}
		seq++
	}
	return true
}

// All returns an iterator over the held entries, oldest first, yielding each
// entry's sequence number and value. The ring must not be modified while the
// iteration is in progress.
func (r *Ring[T]) All() iter.Seq2[uint64, T] {
	return func(yield func(uint64, T) bool) {
		if r.n == 0 {
			return
		}
		r.Range(r.first(), r.next-1, yield)
	}
}

// First returns the sequence number of the oldest held entry, or Next() when
// the ring is empty.
func (r *Ring[T]) First() uint64 { return r.first() }

// Last returns the sequence number of the newest held entry, or Next()-1 when
// the ring is empty, so that Slices(Last()+1, Last()) is the empty range.
// (For an empty ring whose Next() is 0, Last() wraps to math.MaxUint64; the
// engine numbers from revision 1, so it never sees that case.)
func (r *Ring[T]) Last() uint64 { return r.next - 1 }

// Next returns the sequence number the next Push will assign.
func (r *Ring[T]) Next() uint64 { return r.next }

// Len returns the number of held entries.
func (r *Ring[T]) Len() int { return r.n }

// Cap returns the maximum number of entries the ring holds (not how many
// slots are allocated so far).
func (r *Ring[T]) Cap() int { return r.capacity }

// Reset drops every entry; the next Push is assigned sequence number next.
// The dropped slots are zeroed so that whatever they referenced can be
// garbage collected.
func (r *Ring[T]) Reset(next uint64) {
	r.dropNewest(r.n)
	r.head = 0
	r.next = next
}

// TruncateAfter drops the entries with sequence numbers greater than seq, as
// when a write fails and the operations not yet durable must be discarded,
// and makes seq+1 the next sequence number to be assigned:
//
//   - If seq+1 >= Next() (nothing after seq has been pushed; seq =
//     math.MaxUint64 counts), the ring is unchanged. Next() is never moved
//     forward, which would leave a gap in the sequence.
//   - Otherwise the entries after seq are dropped and Next() becomes seq+1.
//     With First()-1 <= seq, the entries up to seq remain; with seq <
//     First()-1 the ring ends up empty, because seq+1 … First()-1 were
//     evicted earlier and cannot be restored, yet the next push must still
//     be numbered seq+1.
//
// Dropped slots are zeroed. The cost is proportional to the entries dropped.
func (r *Ring[T]) TruncateAfter(seq uint64) {
	// seq >= next-1, written so that neither side overflows (next may be 0).
	if seq >= r.next || seq+1 == r.next {
		return
	}
	// Now seq+1 < next, so drop = next-(seq+1) is positive.
	drop := r.next - (seq + 1)
	if drop >= uint64(r.n) {
		r.Reset(seq + 1)
		return
	}
	r.dropNewest(int(drop))
	r.next = seq + 1
}

// first returns the sequence number of the oldest held entry (next when
// empty). It cannot underflow: n entries were pushed to reach next.
func (r *Ring[T]) first() uint64 { return r.next - uint64(r.n) }

// grow replaces the full backing array with one twice as long (at least
// minAlloc, at most the capacity), the held entries moved to its start in
// sequence order. Written for any head, though Push calls it only before the
// first eviction, when head is 0: a ring that has evicted is at capacity.
func (r *Ring[T]) grow() {
	size := min(max(2*len(r.buf), minAlloc), r.capacity)
	buf := make([]T, size)
	k := copy(buf, r.buf[r.head:])
	copy(buf[k:], r.buf[:r.head])
	r.buf = buf
	r.head = 0
}

// index maps an offset from the oldest held entry to a position in buf.
// off must be in [0, len(buf)]; a conditional subtraction is cheaper than %.
func (r *Ring[T]) index(off int) int {
	i := r.head + off
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	return i
}

// span maps the non-empty range from..to to a starting index in buf and a
// count, reporting false if any of it is not held.
func (r *Ring[T]) span(from, to uint64) (start, count int, ok bool) {
	first := r.first()
	// from <= to here; the range is held iff first <= from and to < next.
	if from < first || to >= r.next {
		return 0, 0, false
	}
	return r.index(int(from - first)), int(to-from) + 1, true
}

// dropNewest zeroes the k newest entries and forgets them. It does not move
// next; callers set it.
func (r *Ring[T]) dropNewest(k int) {
	if k == 0 {
		return
	}
	start := r.index(r.n - k)
	if end := start + k; end <= len(r.buf) {
		clear(r.buf[start:end])
	} else {
		clear(r.buf[start:])
		clear(r.buf[:end-len(r.buf)])
	}
	r.n -= k
}
