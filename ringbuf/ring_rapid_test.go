package ringbuf_test

import (
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd/ringbuf"
)

// model is the obvious implementation the ring must agree with: a plain
// slice of the held entries and the sequence number of the first.
type model struct {
	capacity int
	base     uint64
	items    []*int
}

func (m *model) next() uint64 { return m.base + uint64(len(m.items)) }

func (m *model) push(v *int) {
	m.items = append(m.items, v)
	if len(m.items) > m.capacity {
		m.items = m.items[1:]
		m.base++
	}
}

func (m *model) get(seq uint64) (*int, bool) {
	if seq < m.base || seq >= m.next() {
		return nil, false
	}
	return m.items[seq-m.base], true
}

func (m *model) slice(from, to uint64) ([]*int, bool) {
	if from > to {
		return nil, true
	}
	if from < m.base || to >= m.next() {
		return nil, false
	}
	return m.items[from-m.base : to-m.base+1], true
}

func (m *model) truncateAfter(seq uint64) {
	if seq == math.MaxUint64 || seq+1 >= m.next() {
		return
	}
	if seq < m.base {
		m.items, m.base = nil, seq+1
		return
	}
	m.items = m.items[:seq-m.base+1]
}

// drawStart picks a first sequence number near 0 or near the top of the
// uint64 range, where off-by-one and overflow mistakes live.
func drawStart(t *rapid.T, label string) uint64 {
	return rapid.OneOf(
		rapid.Uint64Range(0, 20),
		rapid.Uint64Range(math.MaxUint64-12, math.MaxUint64),
	).Draw(t, label)
}

// drawSeq picks a sequence number around the model's window, sometimes an
// extreme one.
func drawSeq(t *rapid.T, m *model, label string) uint64 {
	lo := m.base - min(m.base, 3)
	hi := m.next() + min(math.MaxUint64-m.next(), 3)
	return rapid.OneOf(
		rapid.Uint64Range(lo, hi),
		rapid.SampledFrom([]uint64{0, math.MaxUint64}),
	).Draw(t, label)
}

// TestRingMatchesModel runs random sequences of every operation against the
// ring and the model and compares them after each step. Values are distinct
// pointers, so equality also proves that the ring hands back what was pushed
// rather than a copy. On failure rapid prints the -rapid.seed to replay.
func TestRingMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Up to 40, so that the backing array grows several times (4, 8,
		// 16, 32, 40) between and around the other operations.
		m := &model{capacity: rapid.IntRange(1, 40).Draw(t, "capacity")}
		m.base = drawStart(t, "next")
		r := ringbuf.New[*int](m.capacity, m.base)
		counter := 0

		t.Repeat(map[string]func(*rapid.T){
			"": func(t *rapid.T) {
				next := m.next()
				if r.Next() != next || r.First() != m.base || r.Last() != next-1 ||
					r.Len() != len(m.items) || r.Cap() != m.capacity {
					t.Fatalf("First/Last/Next/Len/Cap = %d/%d/%d/%d/%d, want %d/%d/%d/%d/%d",
						r.First(), r.Last(), r.Next(), r.Len(), r.Cap(),
						m.base, next-1, next, len(m.items), m.capacity)
				}
				if err := ringbuf.CheckInvariants(r); err != nil {
					t.Fatal(err)
				}
				var got []*int
				seq := m.base
				for s, v := range r.All() {
					if s != seq {
						t.Fatalf("All() yielded sequence %d, want %d", s, seq)
					}
					got = append(got, v)
					seq++
				}
				if !slices.Equal(got, m.items) {
					t.Fatalf("All() = %v, want %v", got, m.items)
				}
			},
			"Push": func(t *rapid.T) {
				counter++
				v := new(int)
				*v = counter
				want := m.next()
				if want == math.MaxUint64 {
					defer func() {
						if recover() == nil {
							t.Fatal("Push at Next() == MaxUint64 did not panic")
						}
					}()
					r.Push(v)
					return
				}
				if got := r.Push(v); got != want {
					t.Fatalf("Push = %d, want %d", got, want)
				}
				m.push(v)
			},
			"Get": func(t *rapid.T) {
				seq := drawSeq(t, m, "seq")
				v, ok := r.Get(seq)
				wv, wok := m.get(seq)
				if v != wv || ok != wok {
					t.Fatalf("Get(%d) = %p, %v; want %p, %v", seq, v, ok, wv, wok)
				}
			},
			"Slices": func(t *rapid.T) {
				from, to := drawSeq(t, m, "from"), drawSeq(t, m, "to")
				a, b, ok := r.Slices(from, to)
				want, wok := m.slice(from, to)
				if ok != wok {
					t.Fatalf("Slices(%d, %d) ok = %v, want %v", from, to, ok, wok)
				}
				if !ok && (a != nil || b != nil) {
					t.Fatalf("Slices(%d, %d) not ok but returned %v, %v", from, to, a, b)
				}
				if len(a) == 0 && len(b) > 0 {
					t.Fatalf("Slices(%d, %d): a empty but b = %v", from, to, b)
				}
				if cap(a) != len(a) || cap(b) != len(b) {
					t.Fatalf("Slices(%d, %d): capacities not clipped", from, to)
				}
				if got := slices.Concat(a, b); !slices.Equal(got, want) {
					t.Fatalf("Slices(%d, %d) = %v, want %v", from, to, got, want)
				}
			},
			"Range": func(t *rapid.T) {
				from, to := drawSeq(t, m, "from"), drawSeq(t, m, "to")
				stop := rapid.IntRange(1, 10).Draw(t, "stop after")
				var got []*int
				ok := r.Range(from, to, func(seq uint64, v *int) bool {
					if seq != from+uint64(len(got)) {
						t.Fatalf("Range(%d, %d) yielded sequence %d at position %d", from, to, seq, len(got))
					}
					got = append(got, v)
					return len(got) < stop
				})
				want, wok := m.slice(from, to)
				want = want[:min(len(want), stop)]
				if ok != wok || !slices.Equal(got, want) {
					t.Fatalf("Range(%d, %d) = %v, %v; want %v, %v", from, to, got, ok, want, wok)
				}
			},
			"Reset": func(t *rapid.T) {
				next := drawStart(t, "next")
				r.Reset(next)
				m.items, m.base = nil, next
			},
			"TruncateAfter": func(t *rapid.T) {
				seq := drawSeq(t, m, "seq")
				r.TruncateAfter(seq)
				m.truncateAfter(seq)
			},
		})
	})
}
